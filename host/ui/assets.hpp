// The web app of `sluice ui`, embedded in the binary at build time (host/ui/assets, and
// uPlot from npm): no files to install beside it, nothing fetched at run time.
#ifndef SLUICE_HOST_UI_ASSETS_HPP_
#define SLUICE_HOST_UI_ASSETS_HPP_

#include <string_view>
#include <vector>

namespace sluice::ui {

struct Asset {
  std::string_view url;  // e.g. /assets/app.js
  std::string_view content_type;
  std::string_view content;
};

const std::vector<Asset>& Assets();

}  // namespace sluice::ui

#endif  // SLUICE_HOST_UI_ASSETS_HPP_
