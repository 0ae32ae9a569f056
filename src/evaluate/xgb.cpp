#include "evaluate/xgb.h"

#include "common/error.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <limits>

namespace rawmed::xgb {
namespace {

void check(int rc, const char* call) {
  if (rc != 0) fail("XGBoost {} failed: {}", call, XGBGetLastError());
}

// Owns one DMatrixHandle.
struct DMatrix {
  DMatrixHandle handle = nullptr;
  DMatrix(const Matrix& m, int threads) {
    if (m.values.size() != static_cast<size_t>(m.rows * m.cols))
      fail("XGBoost matrix: {} values for {} x {}", m.values.size(), m.rows, m.cols);
    check(XGDMatrixCreateFromMat_omp(m.values.data(), m.rows, m.cols, std::numeric_limits<float>::quiet_NaN(),
                                     &handle, threads),
          "XGDMatrixCreateFromMat");
  }
  ~DMatrix() {
    if (handle) XGDMatrixFree(handle);
  }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
};

const char* objective_name(Objective objective) {
  switch (objective) {
    case Objective::kBinary: return "binary:logistic";
    case Objective::kMulticlass: return "multi:softprob";
    case Objective::kRegression: return "reg:squarederror";
  }
  return "";
}

}  // namespace

Matrix::Matrix(int64_t rows_, int64_t cols_)
    : rows(rows_), cols(cols_), values(static_cast<size_t>(rows_ * cols_), std::numeric_limits<float>::quiet_NaN()) {}

Booster::Booster(const Matrix& features, const std::vector<float>& labels, const Params& params) : params_(params) {
  if (features.rows == 0) fail("XGBoost: no training rows");
  if (static_cast<int64_t>(labels.size()) != features.rows)
    fail("XGBoost: {} labels for {} rows", labels.size(), features.rows);
  for (float y : labels)
    if (!std::isfinite(y)) fail("XGBoost: non-finite training label");
  DMatrix train(features, params.threads);
  check(XGDMatrixSetFloatInfo(train.handle, "label", labels.data(), labels.size()), "XGDMatrixSetFloatInfo");
  BoosterHandle booster = nullptr;
  check(XGBoosterCreate(&train.handle, 1, &booster), "XGBoosterCreate");
  handle_ = booster;  // freed by the destructor from here on, also when a later call fails
  auto set = [&](const char* name, const std::string& value) {
    check(XGBoosterSetParam(booster, name, value.c_str()), "XGBoosterSetParam");
  };
  set("objective", objective_name(params.objective));
  if (params.objective == Objective::kMulticlass) set("num_class", std::to_string(params.num_class));
  set("tree_method", "hist");
  set("max_depth", std::to_string(params.max_depth));
  set("eta", std::to_string(params.learning_rate));
  set("subsample", std::to_string(params.subsample));
  set("colsample_bytree", std::to_string(params.colsample));
  set("max_bin", std::to_string(params.max_bin));
  set("nthread", std::to_string(params.threads));
  set("seed", std::to_string(params.seed));
  set("verbosity", "0");
  for (int i = 0; i < params.trees; ++i) check(XGBoosterUpdateOneIter(booster, i, train.handle), "XGBoosterUpdateOneIter");
}

Booster::~Booster() {
  if (handle_) XGBoosterFree(handle_);
}

std::vector<float> Booster::predict(const Matrix& features) const {
  if (features.rows == 0) return {};
  DMatrix data(features, params_.threads);
  bst_ulong length = 0;
  const float* result = nullptr;
  check(XGBoosterPredict(handle_, data.handle, 0, 0, 0, &length, &result), "XGBoosterPredict");
  if (length != static_cast<bst_ulong>(features.rows * outputs_per_row()))
    fail("XGBoost predict: {} outputs for {} rows", length, features.rows);
  return std::vector<float>(result, result + length);
}

}  // namespace rawmed::xgb
