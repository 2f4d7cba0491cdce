// The program of every <library>_links_alone target (qb_add_library in CMakeLists.txt): it
// does nothing; linking it with the whole library and only its declared deps is the check.
int main() { return 0; }
