# retort_add_plugin(<target> SOURCES <file>... [OUTPUT_DIRECTORY <dir>])
#
# Builds a retort stage plugin: a MODULE library "<target>.so" that links retort::pipeline and
# exports retort_plugin_entry (the RETORT_PLUGIN macro emits it when RETORT_PLUGIN_MODULE is
# defined). Everything else stays hidden, so two plugins never clash on a symbol. Load it with
# `retort --plugin-dir <dir>` where <dir> holds the .so (default: the target's build folder).
function(retort_add_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "retort_add_plugin(${target}): give the plugin's SOURCES")
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE retort::pipeline)
  target_compile_definitions(${target} PRIVATE RETORT_PLUGIN_MODULE)
  target_compile_features(${target} PRIVATE cxx_std_20)
  set_target_properties(${target} PROPERTIES PREFIX "" CXX_EXTENSIONS OFF
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
endfunction()
