// Command-line option parsing shared by the commands (Boost.Program_options).
#ifndef SLUICE_HOST_CLI_OPTIONS_HPP_
#define SLUICE_HOST_CLI_OPTIONS_HPP_

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace sluice::cli {

namespace po = boost::program_options;

// Parses `args` against `options` and positional `names` (the last may repeat when
// `repeat_last`). Throws po::error with a readable message on bad usage.
po::variables_map ParseOptions(const std::vector<std::string>& args, const po::options_description& options,
                               const std::vector<std::string>& names, bool repeat_last = false);

// If `args` hold --help or -h, prints `usage` and the options, and returns true.
bool PrintHelpIfAsked(const std::vector<std::string>& args, const po::options_description& options, const char* usage);

}  // namespace sluice::cli

#endif  // SLUICE_HOST_CLI_OPTIONS_HPP_
