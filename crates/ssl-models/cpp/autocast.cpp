// Autocast on a chosen device with a chosen dtype: tch's `autocast` switches CUDA's only, to
// float16 (`at::autocast::set_enabled`). Every function returns 0 on success, -1 when libtorch
// threw (the message is then in `ssl_autocast_last_error`).
#include <ATen/autocast_mode.h>

#include <string>

namespace {
thread_local std::string last_error;

at::DeviceType device_of(int device) { return device == 1 ? at::kCUDA : at::kCPU; }
at::ScalarType dtype_of(int dtype) { return dtype == 1 ? at::kHalf : at::kBFloat16; }
int code_of(at::ScalarType t) { return t == at::kHalf ? 1 : (t == at::kBFloat16 ? 0 : 2); }
}  // namespace

extern "C" {

const char* ssl_autocast_last_error() { return last_error.c_str(); }

// Enables autocast on `device` (0 CPU, 1 CUDA) in `dtype` (0 bfloat16, 1 float16); writes the
// previous state (enabled, dtype code: 0 bf16, 1 f16, 2 other) for `ssl_autocast_exit`.
int ssl_autocast_enter(int device, int dtype, int* was_enabled, int* was_dtype) {
  try {
    auto d = device_of(device);
    *was_enabled = at::autocast::is_autocast_enabled(d) ? 1 : 0;
    *was_dtype = code_of(at::autocast::get_autocast_dtype(d));
    at::autocast::set_autocast_dtype(d, dtype_of(dtype));
    at::autocast::set_autocast_enabled(d, true);
    at::autocast::increment_nesting();
    return 0;
  } catch (const std::exception& e) {
    last_error = e.what();
    return -1;
  }
}

// Restores the state `ssl_autocast_enter` saw; clears the cast cache when leaving the outermost.
int ssl_autocast_exit(int device, int was_enabled, int was_dtype) {
  try {
    auto d = device_of(device);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(d, was_enabled != 0);
    if (was_dtype != 2) at::autocast::set_autocast_dtype(d, dtype_of(was_dtype));
    return 0;
  } catch (const std::exception& e) {
    last_error = e.what();
    return -1;
  }
}
}
