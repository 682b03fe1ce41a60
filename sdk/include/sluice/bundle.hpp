// The bundle format: a self-contained folder that `bundle` writes, the model registry
// keeps, and `sluice predict` (and whatever else reads models) loads. Defined here once,
// for the writer, the readers and third parties; sdk/GUIDE.md ("Bundles") documents the
// manifest's fields.
//
//   manifest.json       what the model is and how to rebuild it (kManifest... below)
//   model.pt            the weights, a flat LibTorch archive (sluice::SaveWeights)
//   preprocessing.json  the data's preprocessing (GUIDE.md, "Preprocessing")
#pragma once

namespace sluice::bundle {

inline constexpr const char* kFormatName = "sluice-bundle";  // manifest "format"

// manifest "format_version": the newest this SDK writes and reads. A reader refuses a
// newer one by name. History: 1 listed the files by name; 2 maps each to its SHA-256.
inline constexpr int kFormatVersion = 2;

inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kWeightsFile = "model.pt";
inline constexpr const char* kPreprocessingFile = "preprocessing.json";

}  // namespace sluice::bundle
