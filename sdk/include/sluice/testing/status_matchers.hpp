// Assertions on a sluice::Status that print the status when they fail, so that a
// failure says what went wrong rather than "Actual: false".
#ifndef SLUICE_TESTING_STATUS_MATCHERS_HPP_
#define SLUICE_TESTING_STATUS_MATCHERS_HPP_

#include <gtest/gtest.h>

#include "sluice/status.hpp"

#define SLUICE_STATUS_CHECK_(check, expr, want_ok)                                                                   \
  do {                                                                                                               \
    const ::sluice::Status sluice_checked_status_ = (expr);                                                          \
    check(sluice_checked_status_.ok() == (want_ok)) << "status of " #expr ": " << sluice_checked_status_.ToString(); \
  } while (false)

#define ASSERT_OK(expr) SLUICE_STATUS_CHECK_(ASSERT_TRUE, expr, true)
#define EXPECT_OK(expr) SLUICE_STATUS_CHECK_(EXPECT_TRUE, expr, true)
#define ASSERT_NOT_OK(expr) SLUICE_STATUS_CHECK_(ASSERT_TRUE, expr, false)
#define EXPECT_NOT_OK(expr) SLUICE_STATUS_CHECK_(EXPECT_TRUE, expr, false)

#endif  // SLUICE_TESTING_STATUS_MATCHERS_HPP_
