#pragma once

#include <cstdio>
#include <cstdlib>

// Checks an invariant that only a bug in lookbook can break; never use it on user input.
// On failure it prints the condition, the reason and the place, then aborts.
#define LOOKBOOK_ASSERT(cond, why)                                                       \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr,                                                         \
                         "lookbook: internal error at %s:%d: %s (%s). Please report.\n", \
                         __FILE__,                                                       \
                         __LINE__,                                                       \
                         why,                                                            \
                         #cond);                                                         \
            std::abort();                                                                \
        }                                                                                \
    } while (false)
