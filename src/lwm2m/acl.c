/* Operation and access-control semantics (LwM2M 1.1 §6.3, §7.3, object 2). */
#include <duckling/err.h>
#include <duckling/lwm2m.h>

uint8_t dk_lwm2m_op_acl_bit(enum dk_lwm2m_op op)
{
    switch (op) {
    case DK_LWM2M_DISCOVER: return 0; /* not governed by the ACL */
    case DK_LWM2M_READ:
    case DK_LWM2M_WRITE_ATTRIBUTES:
    case DK_LWM2M_OBSERVE: return DK_LWM2M_ACL_R;
    case DK_LWM2M_WRITE:
    case DK_LWM2M_WRITE_PARTIAL: return DK_LWM2M_ACL_W;
    case DK_LWM2M_EXECUTE: return DK_LWM2M_ACL_E;
    case DK_LWM2M_DELETE: return DK_LWM2M_ACL_D;
    case DK_LWM2M_CREATE: return DK_LWM2M_ACL_C;
    }
    return 0;
}

int dk_lwm2m_op_check_path(enum dk_lwm2m_op op, const struct dk_lwm2m_path *p)
{
    unsigned n = p->len;
    bool ok;
    switch (op) {
    case DK_LWM2M_READ:
    case DK_LWM2M_OBSERVE:
    case DK_LWM2M_WRITE_ATTRIBUTES: ok = n >= 1; break;
    case DK_LWM2M_DISCOVER: ok = n >= 1 && n <= 3; break;
    case DK_LWM2M_WRITE: ok = n >= 2; break;
    case DK_LWM2M_WRITE_PARTIAL: ok = n == 2 || n == 3; break;
    case DK_LWM2M_EXECUTE: ok = n == 3; break;
    case DK_LWM2M_CREATE: ok = n == 1; break;
    case DK_LWM2M_DELETE: ok = n == 2; break;
    default: ok = false;
    }
    return ok ? 0 : DK_EINVAL;
}

int dk_lwm2m_res_check_op(const struct dk_lwm2m_resource_def *def, enum dk_lwm2m_op op)
{
    if (!def)
        return 0;
    uint8_t need = 0;
    switch (op) {
    case DK_LWM2M_READ:
    case DK_LWM2M_OBSERVE: need = DK_LWM2M_OP_R; break;
    case DK_LWM2M_WRITE:
    case DK_LWM2M_WRITE_PARTIAL: need = DK_LWM2M_OP_W; break;
    case DK_LWM2M_EXECUTE: need = DK_LWM2M_OP_E; break;
    default: return 0;
    }
    return (def->ops & need) ? 0 : DK_EPERM;
}

uint8_t dk_lwm2m_acl_rights(const struct dk_lwm2m_acl *acl, uint16_t ssid)
{
    unsigned n = acl->n <= DK_LWM2M_ACL_ENTRIES_MAX ? acl->n : DK_LWM2M_ACL_ENTRIES_MAX;
    for (unsigned i = 0; i < n; i++)
        if (acl->entry[i].ssid == ssid && ssid != 0)
            return acl->entry[i].rights & DK_LWM2M_ACL_ALL;
    if (acl->owner == ssid)
        return DK_LWM2M_ACL_ALL;
    for (unsigned i = 0; i < n; i++)
        if (acl->entry[i].ssid == 0)
            return acl->entry[i].rights & DK_LWM2M_ACL_ALL;
    return 0;
}

const struct dk_lwm2m_acl *dk_lwm2m_acl_find(const struct dk_lwm2m_acl *acls, size_t n,
                                             uint16_t oid, uint16_t iid)
{
    for (size_t i = 0; i < n; i++)
        if (acls[i].oid == oid && acls[i].iid == iid)
            return &acls[i];
    return NULL;
}

int dk_lwm2m_access_check(const struct dk_lwm2m_acl *acls, size_t n, size_t n_servers,
                          uint16_t ssid, enum dk_lwm2m_op op, const struct dk_lwm2m_path *target)
{
    if (target->len == 0)
        return DK_EPERM;
    uint16_t oid = target->ids[0];
    if (oid == DK_LWM2M_OID_SECURITY)
        return DK_EPERM;
    if (ssid == 0 || ssid == DK_LWM2M_SSID_BOOTSTRAP)
        return DK_EPERM; /* not a valid server identity */
    if (n_servers <= 1)
        return 0;
    uint8_t need = dk_lwm2m_op_acl_bit(op);
    if (need == 0)
        return 0; /* Discover */
    if (oid == DK_LWM2M_OID_ACCESS_CONTROL) {
        if (target->len == 1)
            return need == DK_LWM2M_ACL_R ? 0 : DK_EPERM;
        for (size_t i = 0; i < n; i++) {
            if (acls[i].acl_iid != target->ids[1])
                continue;
            uint8_t rights = acls[i].owner == ssid ? (DK_LWM2M_ACL_R | DK_LWM2M_ACL_W)
                                                   : DK_LWM2M_ACL_R;
            return (rights & need) ? 0 : DK_EPERM;
        }
        return DK_EPERM;
    }
    if (op == DK_LWM2M_CREATE) {
        const struct dk_lwm2m_acl *a = dk_lwm2m_acl_find(acls, n, oid, DK_LWM2M_ID_NONE);
        return a && (dk_lwm2m_acl_rights(a, ssid) & DK_LWM2M_ACL_C) ? 0 : DK_EPERM;
    }
    if (target->len == 1)
        return need == DK_LWM2M_ACL_R ? 0 : DK_EPERM;
    const struct dk_lwm2m_acl *a = dk_lwm2m_acl_find(acls, n, oid, target->ids[1]);
    if (!a)
        return DK_EPERM;
    return (dk_lwm2m_acl_rights(a, ssid) & need) ? 0 : DK_EPERM;
}

void dk_lwm2m_acl_init_created(struct dk_lwm2m_acl *acl, uint16_t acl_iid, uint16_t oid,
                               uint16_t iid, uint16_t creator)
{
    acl->acl_iid = acl_iid;
    acl->oid = oid;
    acl->iid = iid;
    acl->owner = creator;
    acl->n = 0;
}

int dk_lwm2m_acl_set(struct dk_lwm2m_acl *acl, uint16_t ssid, uint8_t rights)
{
    if (rights > DK_LWM2M_ACL_ALL || ssid == DK_LWM2M_SSID_BOOTSTRAP)
        return DK_EINVAL;
    for (unsigned i = 0; i < acl->n && i < DK_LWM2M_ACL_ENTRIES_MAX; i++) {
        if (acl->entry[i].ssid == ssid) {
            acl->entry[i].rights = rights;
            return 0;
        }
    }
    if (acl->n >= DK_LWM2M_ACL_ENTRIES_MAX)
        return DK_ENOSPC;
    acl->entry[acl->n].ssid = ssid;
    acl->entry[acl->n].rights = rights;
    acl->n++;
    return 0;
}
