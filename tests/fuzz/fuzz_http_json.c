/* libFuzzer target: a REST request (method, path, query, JSON body) into a
 * gateway command, exactly as the HTTP server does it (dk_gw_cmd_parse),
 * including the OOB label inside POST /api/oob. No network.
 * Input: "METHOD PATH[?QUERY]\n" then the body. */
// dk-fuzz-libs: dk_gateway
#include <duckling/gateway.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t head = nl ? (size_t)(nl - (const char *)data) : size;
    if (head > 4096)
        return 0;
    char line[4097];
    memcpy(line, data, head);
    line[head] = '\0';
    char *sp = strchr(line, ' ');
    if (!sp)
        return 0;
    *sp = '\0';
    char *path = sp + 1;
    char *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    /* The body is handed over exactly as received: not NUL-terminated. */
    size_t blen = nl ? size - head - 1 : 0;
    char *body = blen ? malloc(blen) : NULL;
    if (blen && !body)
        return 0;
    if (blen)
        memcpy(body, nl + 1, blen);
    struct dk_gw_cmd cmd;
    struct dk_gw_cmd_error err;
    dk_gw_cmd_init(&cmd);
    int rc = dk_gw_cmd_parse(line, path, query, body, blen, &cmd, &err);
    if (rc != 0 && (err.status < 400 || err.status > 599 || !err.msg[0]))
        abort(); /* every refusal carries an HTTP error status and a message */
    if (rc == 0 && cmd.kind == DK_GW_CMD_WRITE && !cmd.value_json)
        abort();
    dk_gw_cmd_free(&cmd);
    /* The label parser on its own, for the body taken as label text. */
    struct dk_gw_oob rec;
    dk_gw_label_parse(body, blen, &rec, &err);
    free(body);
    return 0;
}
