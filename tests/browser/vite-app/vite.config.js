// Top-level await in main.js needs an es2022 target.
export default { build: { target: 'es2022' } };
