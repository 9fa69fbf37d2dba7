#pragma once
// Turns the merged statistics into human-readable lines and one final JSON line.
#include <iosfwd>

#include "common.h"
#include "modes.h"
#include "options.h"

namespace loadgen {

// Prints the results; returns the process exit status (1 when nothing succeeded).
int report(const Options& o, RunInfo& info, const Stats& s, std::ostream& out);

}  // namespace loadgen
