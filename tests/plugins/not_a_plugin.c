/* A shared library that is not a Sluice plugin (no entry point). */
int not_a_plugin_answer(void) { return 42; }
