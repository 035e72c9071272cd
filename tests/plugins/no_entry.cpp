// Fixture: a shared library that exports something, but not retort_plugin_entry.
extern "C" __attribute__((visibility("default"))) int retort_plugin_entry_misspelled(void) {
  return 1;
}
