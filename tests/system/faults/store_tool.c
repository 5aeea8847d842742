/* dk-store-tool — drives the store layer (include/duckling/store.h) for the
 * fault tests: kill -9 at every system call of a save, disk full.
 *
 *   dk-store-tool save DIR GEN [SIZE]   replaces DIR/operational.store with
 *       generation GEN: a record "/gen" = GEN (decimal) and "/blob" = SIZE
 *       bytes (default 200) that depend on GEN. Prints "saved GEN"; on
 *       failure "dk-store-tool: DIR/operational.store: cannot save: WHY" on
 *       stderr and exit 1 (WHY is strerror(errno) for I/O errors).
 *   dk-store-tool load DIR              prints "gen N" when the store loads and
 *       its blob is exactly generation N's, "none" without a store; otherwise
 *       "error WHY" and exit 1.
 *   dk-store-tool factory DIR           loads DIR/factory.store: "factory EP",
 *       "none", or "error WHY" and exit 1.
 * SIGXFSZ is ignored so a file size limit (ulimit -f) shows as EFBIG.
 */
#include <duckling/err.h>
#include <duckling/rng.h>
#include <duckling/store.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_blob(uint8_t *b, size_t n, unsigned long gen)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(gen * 131 + i * 7 + (i >> 8));
}

static int save(const char *dir, unsigned long gen, size_t size)
{
    char genstr[32];
    snprintf(genstr, sizeof genstr, "%lu", gen);
    uint8_t *blob = malloc(size ? size : 1);
    if (!blob)
        return 1;
    fill_blob(blob, size, gen);
    struct dk_store_record recs[2] = {
        {"/gen", (const uint8_t *)genstr, strlen(genstr)},
        {"/blob", blob, size},
    };
    struct dk_rng rng;
    dk_rng_init(&rng);
    int rc = dk_rng_setup(&rng, "store-tool", 10);
    if (rc == 0)
        rc = dk_store_ops_save(dir, recs, 2, &rng);
    int saved = errno;
    dk_rng_free(&rng);
    free(blob);
    if (rc) {
        fprintf(stderr, "dk-store-tool: %s/%s: cannot save: %s\n", dir, DK_STORE_OPS_FILE,
                rc == DK_EIO ? strerror(saved) : dk_strerror(rc));
        return 1;
    }
    printf("saved %lu\n", gen);
    return 0;
}

static int load(const char *dir)
{
    struct dk_store_ops ops;
    const char *why = NULL;
    dk_store_ops_init(&ops);
    int rc = dk_store_ops_load(dir, NULL, &ops, &why);
    if (rc == DK_ENOTFOUND) {
        puts("none");
        return 0;
    }
    if (rc) {
        printf("error %s\n", why ? why : dk_strerror(rc));
        return 1;
    }
    const struct dk_store_record *g = dk_store_ops_find(&ops, "/gen");
    const struct dk_store_record *b = dk_store_ops_find(&ops, "/blob");
    int st = 1;
    if (!g || !b || g->len == 0 || g->len > 20) {
        puts("error records missing");
    } else {
        char genstr[32];
        memcpy(genstr, g->value, g->len);
        genstr[g->len] = 0;
        unsigned long gen = strtoul(genstr, NULL, 10);
        uint8_t *want = malloc(b->len ? b->len : 1);
        if (want) {
            fill_blob(want, b->len, gen);
            if (b->len && memcmp(want, b->value, b->len) != 0) {
                puts("error blob is not the generation's");
            } else {
                printf("gen %lu\n", gen);
                st = 0;
            }
            free(want);
        }
    }
    dk_store_ops_free(&ops);
    return st;
}

static int factory(const char *dir)
{
    static struct dk_store_factory f;
    const char *why = NULL;
    dk_store_factory_init(&f);
    int rc = dk_store_factory_load(dir, &f, &why);
    if (rc == DK_ENOTFOUND) {
        puts("none");
        return 0;
    }
    if (rc) {
        printf("error %s\n", why ? why : dk_strerror(rc));
        return 1;
    }
    printf("factory %s\n", f.endpoint);
    dk_store_factory_wipe(&f);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    if (argc >= 4 && strcmp(argv[1], "save") == 0)
        return save(argv[2], strtoul(argv[3], NULL, 10),
                    argc > 4 ? strtoul(argv[4], NULL, 10) : 200);
    if (argc == 3 && strcmp(argv[1], "load") == 0)
        return load(argv[2]);
    if (argc == 3 && strcmp(argv[1], "factory") == 0)
        return factory(argv[2]);
    fprintf(stderr, "usage: dk-store-tool save DIR GEN [SIZE] | load DIR | factory DIR\n");
    return 2;
}
