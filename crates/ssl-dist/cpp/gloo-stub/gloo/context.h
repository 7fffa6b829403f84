// Declarations only (see README.md).
#pragma once
#include <chrono>
#include <memory>
namespace gloo {
class Context {
 public:
  virtual ~Context();
  void setTimeout(std::chrono::milliseconds timeout);
};
} // namespace gloo
