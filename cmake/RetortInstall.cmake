# `cmake --install`: headers, libretort.so, the retort CLI and a CMake package so that plugins
# build out of tree with find_package(retort CONFIG). The built-in plugins install themselves
# to <libdir>/retort/plugins (stages/CMakeLists.txt).
include(CMakePackageConfigHelpers)

set(RETORT_INSTALL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/retort)
set(RETORT_INSTALL_PLUGIN_DIR ${CMAKE_INSTALL_LIBDIR}/retort/plugins)

# Installed binaries find libretort.so relative to themselves, so a prefix can be moved.
set_target_properties(retort PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}"
                                        EXPORT_NAME retort)
set_target_properties(retort_pipeline PROPERTIES EXPORT_NAME pipeline)
get_property(retort_builtin_plugins GLOBAL PROPERTY RETORT_BUILTIN_PLUGINS)
foreach(name IN LISTS retort_builtin_plugins)
  set_target_properties(retort-${name} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
endforeach()

install(TARGETS retort_pipeline retort EXPORT retortTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/pipeline/include/retort
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(EXPORT retortTargets NAMESPACE retort:: DESTINATION ${RETORT_INSTALL_CMAKE_DIR})
# Keeps set_and_check(RETORT_PLUGIN_DIR) true even before any built-in plugin exists.
install(DIRECTORY DESTINATION ${RETORT_INSTALL_PLUGIN_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/retortConfig.cmake.in
  ${PROJECT_BINARY_DIR}/retortConfig.cmake
  INSTALL_DESTINATION ${RETORT_INSTALL_CMAKE_DIR}
  PATH_VARS RETORT_INSTALL_PLUGIN_DIR)
# A plugin must be rebuilt for every retort release (the fingerprint check); within a minor
# series the SDK source stays compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/retortConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/retortConfig.cmake ${PROJECT_BINARY_DIR}/retortConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/retortPlugin.cmake DESTINATION ${RETORT_INSTALL_CMAKE_DIR})
