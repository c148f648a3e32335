/*
 * check.h - a minimal test harness: CHECK() records a failure and goes on,
 * TEST() declares a case, RUN() runs one, and check_summary() prints
 * "N passed, N failed" and gives the exit status.
 */
#ifndef PROCKET_CHECK_H
#define PROCKET_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_in_case;
static int check_passed, check_failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__,          \
                    __LINE__, #cond);                                         \
            check_failures_in_case++;                                         \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_) {                                                       \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",    \
                    __FILE__, __LINE__, #a, a_, #b, b_);                      \
            check_failures_in_case++;                                         \
        }                                                                     \
    } while (0)

#define TEST(name) static void name(void)

#define RUN(name)                                                             \
    do {                                                                      \
        check_failures_in_case = 0;                                           \
        name();                                                               \
        if (check_failures_in_case == 0) {                                    \
            check_passed++;                                                   \
        } else {                                                              \
            check_failed++;                                                   \
            fprintf(stderr, "FAIL %s\n", #name);                              \
        }                                                                     \
    } while (0)

static inline int check_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

#endif
