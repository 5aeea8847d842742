/* The event stream: GET /api/events as Server-Sent Events.
 *
 * Each client has a bounded queue of bytes. Its MHD response reads from the
 * queue; when the queue is empty the connection is suspended inside the
 * reader (allowed by MHD) and resumed when an event or a keep-alive comment
 * is queued. A client that falls more than DK_GW_SSE_MAX_QUEUE bytes behind
 * is disconnected rather than letting the gateway's memory grow. */
#include "internal.h"

#include <duckling/err.h>

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sse_wake(struct dk_gw_sse *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
        s->gw->kick = true;
    }
}

static void sse_append(struct dk_gw_sse *s, const char *text, size_t n)
{
    if (s->overflow || s->closing)
        return;
    if (s->off && s->off == s->len)
        s->off = s->len = 0;
    if (s->len - s->off + n > DK_GW_SSE_MAX_QUEUE) {
        s->overflow = true;
        sse_wake(s);
        return;
    }
    if (s->len + n > s->cap) {
        /* Compact first, grow if still needed. */
        if (s->off) {
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        if (s->len + n > s->cap) {
            size_t cap = s->cap ? s->cap : 4096;
            while (cap < s->len + n)
                cap *= 2;
            char *b = realloc(s->buf, cap);
            if (!b) {
                s->overflow = true;
                sse_wake(s);
                return;
            }
            s->buf = b;
            s->cap = cap;
        }
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    sse_wake(s);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct dk_gw_sse *s = cls;
    if (s->overflow)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (s->len > s->off) {
        size_t n = s->len - s->off;
        if (n > max)
            n = max;
        memcpy(out, s->buf + s->off, n);
        s->off += n;
        return (ssize_t)n;
    }
    if (s->closing)
        return MHD_CONTENT_READER_END_OF_STREAM;
    MHD_suspend_connection(s->conn);
    s->suspended = true;
    return 0;
}

static void sse_free(void *cls)
{
    struct dk_gw_sse *s = cls;
    struct dk_gw *gw = s->gw;
    if (s->prev)
        s->prev->next = s->next;
    else if (gw->sse == s)
        gw->sse = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s->buf);
    free(s);
}

struct MHD_Response *dk_gw_sse_response(struct dk_gw *gw, struct MHD_Connection *conn)
{
    struct dk_gw_sse *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->gw = gw;
    s->conn = conn;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
    if (!resp) {
        free(s);
        return NULL;
    }
    s->next = gw->sse;
    if (gw->sse)
        gw->sse->prev = s;
    gw->sse = s;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    static const char hello[] = ": duckling event stream\nretry: 3000\n\n";
    sse_append(s, hello, sizeof hello - 1);
    return resp;
}

void dk_gw_sse_keepalive(struct dk_gw *gw)
{
    static const char ka[] = ": keep-alive\n\n";
    for (struct dk_gw_sse *s = gw->sse; s; s = s->next)
        sse_append(s, ka, sizeof ka - 1);
}

void dk_gw_sse_close_all(struct dk_gw *gw)
{
    for (struct dk_gw_sse *s = gw->sse; s; s = s->next) {
        s->closing = true;
        sse_wake(s);
    }
}

int dk_gw_publish_obj(struct dk_gw *gw, const char *type, const char *ep, cJSON *obj)
{
    if (!obj)
        return DK_ENOMEM;
    if (!type || !type[0]) {
        cJSON_Delete(obj);
        return DK_EINVAL;
    }
    /* type, time and endpoint come first for readers of the raw stream. */
    cJSON *ev = cJSON_CreateObject();
    if (!ev) {
        cJSON_Delete(obj);
        return DK_ENOMEM;
    }
    cJSON_AddStringToObject(ev, "type", type);
    cJSON_AddNumberToObject(ev, "time", (double)dk_gw_now(gw));
    if (ep && ep[0])
        cJSON_AddStringToObject(ev, "endpoint", ep);
    while (obj->child) {
        cJSON *c = cJSON_DetachItemViaPointer(obj, obj->child);
        if (c->string && (strcmp(c->string, "type") == 0 || strcmp(c->string, "time") == 0 ||
                          strcmp(c->string, "endpoint") == 0))
            cJSON_Delete(c);
        else
            cJSON_AddItemToObject(ev, c->string, c);
    }
    cJSON_Delete(obj);
    char *data = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    if (!data)
        return DK_ENOMEM;
    gw->event_id++;
    if (gw->sse) {
        size_t cap = strlen(data) + strlen(type) + 64;
        char *frame = malloc(cap);
        if (!frame) {
            free(data);
            return DK_ENOMEM;
        }
        /* The type is ours (no newlines); the data is one line of JSON. */
        int n = snprintf(frame, cap, "id: %llu\nevent: %s\ndata: %s\n\n",
                         (unsigned long long)gw->event_id, type, data);
        for (struct dk_gw_sse *s = gw->sse; s; s = s->next)
            sse_append(s, frame, (size_t)n);
        free(frame);
    }
    free(data);
    return 0;
}

int dk_gw_event_publish(struct dk_gw *gw, const char *type, const char *ep, const char *data_json)
{
    if (!type || !type[0] || strpbrk(type, "\r\n") ||
        (ep && strnlen(ep, DK_GW_EP_MAX + 1) > DK_GW_EP_MAX))
        return DK_EINVAL;
    cJSON *obj = NULL;
    if (data_json) {
        obj = cJSON_Parse(data_json);
        if (!obj || !cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            return DK_EINVAL;
        }
    } else {
        obj = cJSON_CreateObject();
    }
    return dk_gw_publish_obj(gw, type, ep, obj);
}
