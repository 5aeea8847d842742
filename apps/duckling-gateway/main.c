/* duckling-gateway — LwM2M Bootstrap Server + LwM2M Server + REST API in
 * one process (issue 6). The engines' wiring is in engines.c. */
#include "engines.h"

int main(int argc, char **argv)
{
    return gw_main(argc, argv, gw_real_engines());
}
