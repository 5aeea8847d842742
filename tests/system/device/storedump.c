/* dk-store-dump DIR — test helper: loads DIR/operational.store the way the
 * daemon does and prints "records N" and one "KEY HEX" line per record, or
 * "none" (no store), or "error WHY" with exit status 1. Prints secrets: tests
 * only. */
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/store.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dk-store-dump DIR\n");
        return 2;
    }
    struct dk_store_ops ops;
    const char *why = NULL;
    dk_store_ops_init(&ops);
    int rc = dk_store_ops_load(argv[1], NULL, &ops, &why);
    if (rc == DK_ENOTFOUND) {
        puts("none");
        return 0;
    }
    if (rc) {
        printf("error %s\n", why ? why : dk_strerror(rc));
        return 1;
    }
    printf("records %zu\n", ops.count);
    for (size_t i = 0; i < ops.count; i++) {
        size_t n = ops.recs[i].len;
        char *hex = malloc(2 * n + 1);
        if (!hex)
            return 1;
        dk_hex_encode(hex, 2 * n + 1, ops.recs[i].value, n);
        printf("%s %s\n", ops.recs[i].key, hex);
        free(hex);
    }
    dk_store_ops_free(&ops);
    return 0;
}
