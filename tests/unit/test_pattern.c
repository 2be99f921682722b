/* PLACEHOLDER-UNTIL-MODULE-LANDS */
int main(void) { return 77; }
