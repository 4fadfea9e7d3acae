//! A dense f32 NCHW tensor: what the preprocessor makes and the engines run.

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: [usize; 4],
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn zeros(shape: [usize; 4]) -> Tensor {
        Tensor { shape, data: vec![0.0; shape.iter().product()] }
    }

    pub fn batch(&self) -> usize {
        self.shape[0]
    }
}
