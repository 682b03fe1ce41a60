// The floor for any program that links LibTorch: load it and make one tensor. What every
// `sluice` command would pay if the host linked LibTorch itself.
#include <torch/types.h>

int main() { return torch::ones({1}).item<float>() == 1.0f ? 0 : 1; }
