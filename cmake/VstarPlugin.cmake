# vstar_add_plugin(<name> SOURCES <files...> [LINK <libs...>])
# Builds one tool plugin: a MODULE library named vstar-<name>.so that includes only the plugin SDK
# (include/vstar/plugin.h, header-only, needs Boost headers for Boost.DLL aliases). The loader finds
# plugins by that file name in --plugin-path, $VSTAR_PLUGIN_PATH and <exe>/../lib/vstar/plugins.
# Used in the source tree (plugins/*/CMakeLists.txt) and, installed, by third-party plugins through
# find_package(vstarPlugin).
include_guard(GLOBAL)

if(NOT TARGET vstar::plugin_sdk)
  find_package(Boost 1.74 REQUIRED)
  add_library(vstar_plugin_sdk INTERFACE)
  add_library(vstar::plugin_sdk ALIAS vstar_plugin_sdk)
  if(NOT VSTAR_PLUGIN_SDK_INCLUDE_DIR)
    get_filename_component(VSTAR_PLUGIN_SDK_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../include" ABSOLUTE)
  endif()
  target_include_directories(vstar_plugin_sdk INTERFACE ${VSTAR_PLUGIN_SDK_INCLUDE_DIR})
  target_link_libraries(vstar_plugin_sdk INTERFACE Boost::headers ${CMAKE_DL_LIBS})
  target_compile_features(vstar_plugin_sdk INTERFACE cxx_std_20)
endif()

function(vstar_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "vstar_add_plugin(${name}): SOURCES is required")
  endif()
  set(target vstar-plugin-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE vstar::plugin_sdk ${ARG_LINK})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME "vstar-${name}"
                                             CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(VSTAR_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${VSTAR_PLUGIN_OUTPUT_DIR})
  endif()
  if(NOT VSTAR_PLUGIN_INSTALL_DIR)
    include(GNUInstallDirs)
    set(VSTAR_PLUGIN_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/vstar/plugins)
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${VSTAR_PLUGIN_INSTALL_DIR})
  set_property(GLOBAL APPEND PROPERTY VSTAR_PLUGIN_TARGETS ${target})
endfunction()
