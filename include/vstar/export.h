#pragma once
// Symbol visibility and the export macros of the vstar plugin SDK. Included by <vstar/plugin.h>;
// plugins include only that header.
//
// Plugins are built with hidden visibility (vstar_add_plugin), so without VSTAR_SDK_API the
// type_info of the SDK's interfaces would be private to each plugin, and dynamic_cast / catch
// across the plugin boundary would depend on the C++ runtime comparing type names by string.
// Marking the interfaces default-visible makes the plugin's and the host's type_info the same
// symbol (GCC's "Visibility" wiki page, section "Problems with C++ exceptions").
#include <memory>

#include <boost/dll/alias.hpp>

#if defined(__GNUC__) || defined(__clang__)
#define VSTAR_SDK_API __attribute__((visibility("default")))
#else
#define VSTAR_SDK_API
#endif

// Exports the ABI number and a factory for `Class` (constructible from const
// vstar::plugin::Config&). Use once, at namespace scope, in one .cpp file of the plugin.
#define VSTAR_PLUGIN(Class)                                                                \
  namespace vstar_plugin_export {                                                          \
  inline std::unique_ptr<::vstar::plugin::Tool> create(const ::vstar::plugin::Config& c) { \
    return std::make_unique<Class>(c);                                                     \
  }                                                                                        \
  inline const int abi = ::vstar::plugin::kAbiVersion;                                     \
  inline const ::vstar::plugin::Factory factory = &create;                                 \
  }                                                                                        \
  BOOST_DLL_ALIAS(vstar_plugin_export::abi, vstar_plugin_abi)                              \
  BOOST_DLL_ALIAS(vstar_plugin_export::factory, vstar_plugin_create)

// Exports the ABI number and a custom factory `fn` (std::unique_ptr<Tool>(const Config&)), for
// plugins that serve several kinds and pick the tool from `Config::kind`.
#define VSTAR_PLUGIN_FACTORY(fn)                              \
  namespace vstar_plugin_export {                             \
  inline const int abi = ::vstar::plugin::kAbiVersion;        \
  inline const ::vstar::plugin::Factory factory = &(fn);      \
  }                                                           \
  BOOST_DLL_ALIAS(vstar_plugin_export::abi, vstar_plugin_abi) \
  BOOST_DLL_ALIAS(vstar_plugin_export::factory, vstar_plugin_create)
