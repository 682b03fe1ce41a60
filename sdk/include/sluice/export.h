/* Symbol visibility for the Sluice SDK.
 *
 * Plugins and the SDK build with -fvisibility=hidden. SLUICE_API marks what the SDK
 * libraries export (libsluice_sdk, libsluice_torch); SLUICE_PLUGIN_EXPORT marks the one
 * entry point a plugin exports. */
#ifndef SLUICE_EXPORT_H_
#define SLUICE_EXPORT_H_

#define SLUICE_API __attribute__((visibility("default")))
#define SLUICE_PLUGIN_EXPORT __attribute__((visibility("default")))

#endif /* SLUICE_EXPORT_H_ */
