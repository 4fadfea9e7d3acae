//! The packing and transform loops for the baseline target (no extra
//! target features): the portable set's, and the fallback of the others.

super::helpers::helpers!();
