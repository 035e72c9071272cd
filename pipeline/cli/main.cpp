#include <cstdio>
int main() { std::puts("retort " RETORT_VERSION); return 0; }
