#pragma once
// A small RAII wrapper over the XGBoost C API (libxgboost 1.7): a dense float matrix in, a
// trained booster out, predictions back. Every C API error becomes rawmed::Error.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rawmed::xgb {

// Row-major dense features; NaN marks a missing value (XGBoost learns where missing goes).
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;  // rows * cols
  Matrix() = default;
  Matrix(int64_t rows_, int64_t cols_);
  float& at(int64_t row, int64_t col) { return values[row * cols + col]; }
  float at(int64_t row, int64_t col) const { return values[row * cols + col]; }
  float* row(int64_t r) { return values.data() + r * cols; }
  const float* row(int64_t r) const { return values.data() + r * cols; }
};

enum class Objective { kBinary, kMulticlass, kRegression };

struct Params {
  Objective objective = Objective::kBinary;
  int num_class = 2;          // kMulticlass only
  int trees = 100;
  int max_depth = 5;
  double learning_rate = 0.1;
  double subsample = 0.9;
  double colsample = 0.9;
  int max_bin = 256;
  int threads = 1;  // see XgbSettings in evaluate/utility.h
  uint64_t seed = 0;
};

class Booster {
 public:
  // Trains `params.trees` rounds on (features, labels). Labels: 0/1 (binary), class ids
  // 0..num_class-1 (multiclass) or targets (regression).
  Booster(const Matrix& features, const std::vector<float>& labels, const Params& params);
  ~Booster();
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;

  // Binary: P(label = 1) per row. Regression: the prediction per row. Multiclass: row-major
  // [rows][num_class] probabilities.
  std::vector<float> predict(const Matrix& features) const;
  int outputs_per_row() const { return params_.objective == Objective::kMulticlass ? params_.num_class : 1; }

 private:
  Params params_;
  void* handle_ = nullptr;
};

}  // namespace rawmed::xgb
