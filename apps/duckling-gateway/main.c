/* duckling-gateway — LwM2M Bootstrap Server + LwM2M Server + REST API.
 * The protocol engines are not part of this build yet: the REST API, the
 * database and the event stream run on their own. */
#include "gateway_main.h"

#include <stddef.h>

int main(int argc, char **argv)
{
    return gw_main(argc, argv, NULL);
}
