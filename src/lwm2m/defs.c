/* Object and resource definitions of DESIGN §4, from the OMA LwM2M registry
 * (object versions noted per object). Security resources have no operations:
 * only the Bootstrap-Server writes them. */
#include <duckling/lwm2m.h>

#define S false /* single */
#define M true  /* multiple */
#define MAN true
#define OPT false
#define R DK_LWM2M_OP_R
#define W DK_LWM2M_OP_W
#define RW DK_LWM2M_OP_RW
#define E DK_LWM2M_OP_E
#define T_STR DK_LWM2M_TYPE_STRING
#define T_INT DK_LWM2M_TYPE_INTEGER
#define T_UINT DK_LWM2M_TYPE_UNSIGNED
#define T_FLT DK_LWM2M_TYPE_FLOAT
#define T_BOOL DK_LWM2M_TYPE_BOOLEAN
#define T_OPQ DK_LWM2M_TYPE_OPAQUE
#define T_TIME DK_LWM2M_TYPE_TIME
#define T_LNK DK_LWM2M_TYPE_OBJLNK
#define T_NONE DK_LWM2M_TYPE_NONE

/* LwM2M Security, object version 1.1 (urn:oma:lwm2m:oma:0:1.1). */
static const struct dk_lwm2m_resource_def security[] = {
    {0, "LWM2M Server URI", T_STR, 0, S, MAN},
    {1, "Bootstrap-Server", T_BOOL, 0, S, MAN},
    {2, "Security Mode", T_INT, 0, S, MAN},
    {3, "Public Key or Identity", T_OPQ, 0, S, MAN},
    {4, "Server Public Key", T_OPQ, 0, S, MAN},
    {5, "Secret Key", T_OPQ, 0, S, MAN},
    {6, "SMS Security Mode", T_INT, 0, S, OPT},
    {7, "SMS Binding Key Parameters", T_OPQ, 0, S, OPT},
    {8, "SMS Binding Secret Key(s)", T_OPQ, 0, S, OPT},
    {9, "LwM2M Server SMS Number", T_STR, 0, S, OPT},
    {10, "Short Server ID", T_INT, 0, S, OPT},
    {11, "Client Hold Off Time", T_INT, 0, S, OPT},
    {12, "Bootstrap-Server Account Timeout", T_INT, 0, S, OPT},
    {13, "Matching Type", T_UINT, 0, S, OPT},
    {14, "SNI", T_STR, 0, S, OPT},
    {15, "Certificate Usage", T_UINT, 0, S, OPT},
    {16, "DTLS/TLS Ciphersuite", T_UINT, 0, M, OPT},
    {17, "OSCORE Security Mode", T_LNK, 0, S, OPT},
};

/* LwM2M Server, object version 1.1. */
static const struct dk_lwm2m_resource_def server[] = {
    {0, "Short Server ID", T_INT, R, S, MAN},
    {1, "Lifetime", T_INT, RW, S, MAN},
    {2, "Default Minimum Period", T_INT, RW, S, OPT},
    {3, "Default Maximum Period", T_INT, RW, S, OPT},
    {4, "Disable", T_NONE, E, S, OPT},
    {5, "Disable Timeout", T_INT, RW, S, OPT},
    {6, "Notification Storing When Disabled or Offline", T_BOOL, RW, S, MAN},
    {7, "Binding", T_STR, RW, S, MAN},
    {8, "Registration Update Trigger", T_NONE, E, S, MAN},
    {9, "Bootstrap-Request Trigger", T_NONE, E, S, OPT},
    {10, "APN Link", T_LNK, RW, S, OPT},
    {11, "TLS-DTLS Alert Code", T_UINT, R, S, OPT},
    {12, "Last Bootstrapped", T_TIME, R, S, OPT},
    {13, "Registration Priority Order", T_UINT, R, S, OPT},
    {14, "Initial Registration Delay Timer", T_UINT, RW, S, OPT},
    {15, "Registration Failure Block", T_BOOL, R, S, OPT},
    {16, "Bootstrap on Registration Failure", T_BOOL, R, S, OPT},
    {17, "Communication Retry Count", T_UINT, RW, S, OPT},
    {18, "Communication Retry Timer", T_UINT, RW, S, OPT},
    {19, "Communication Sequence Delay Timer", T_UINT, RW, S, OPT},
    {20, "Communication Sequence Retry Count", T_UINT, RW, S, OPT},
    {21, "Trigger", T_BOOL, RW, S, OPT},
    {22, "Preferred Transport", T_STR, RW, S, OPT},
    {23, "Mute Send", T_BOOL, RW, S, OPT},
};

/* LwM2M Access Control, object version 1.1. */
static const struct dk_lwm2m_resource_def access_control[] = {
    {0, "Object ID", T_INT, R, S, MAN},
    {1, "Object Instance ID", T_INT, R, S, MAN},
    {2, "ACL", T_INT, RW, M, OPT},
    {3, "Access Control Owner", T_INT, RW, S, MAN},
};

/* Device, object version 1.1. */
static const struct dk_lwm2m_resource_def device[] = {
    {0, "Manufacturer", T_STR, R, S, OPT},
    {1, "Model Number", T_STR, R, S, OPT},
    {2, "Serial Number", T_STR, R, S, OPT},
    {3, "Firmware Version", T_STR, R, S, OPT},
    {4, "Reboot", T_NONE, E, S, MAN},
    {5, "Factory Reset", T_NONE, E, S, OPT},
    {6, "Available Power Sources", T_INT, R, M, OPT},
    {7, "Power Source Voltage", T_INT, R, M, OPT},
    {8, "Power Source Current", T_INT, R, M, OPT},
    {9, "Battery Level", T_INT, R, S, OPT},
    {10, "Memory Free", T_INT, R, S, OPT},
    {11, "Error Code", T_INT, R, M, MAN},
    {12, "Reset Error Code", T_NONE, E, S, OPT},
    {13, "Current Time", T_TIME, RW, S, OPT},
    {14, "UTC Offset", T_STR, RW, S, OPT},
    {15, "Timezone", T_STR, RW, S, OPT},
    {16, "Supported Binding and Modes", T_STR, R, S, MAN},
    {17, "Device Type", T_STR, R, S, OPT},
    {18, "Hardware Version", T_STR, R, S, OPT},
    {19, "Software Version", T_STR, R, S, OPT},
    {20, "Battery Status", T_INT, R, S, OPT},
    {21, "Memory Total", T_INT, R, S, OPT},
    {22, "ExtDevInfo", T_LNK, R, M, OPT},
};

/* Firmware Update, object version 1.0 (definitions only; DESIGN §4 "later"). */
static const struct dk_lwm2m_resource_def firmware[] = {
    {0, "Package", T_OPQ, W, S, MAN},
    {1, "Package URI", T_STR, RW, S, MAN},
    {2, "Update", T_NONE, E, S, MAN},
    {3, "State", T_INT, R, S, MAN},
    {5, "Update Result", T_INT, R, S, MAN},
    {6, "PkgName", T_STR, R, S, OPT},
    {7, "PkgVersion", T_STR, R, S, OPT},
    {8, "Firmware Update Protocol Support", T_INT, R, M, OPT},
    {9, "Firmware Update Delivery Method", T_INT, R, S, MAN},
};

/* Location, object version 1.0. */
static const struct dk_lwm2m_resource_def location[] = {
    {0, "Latitude", T_FLT, R, S, MAN},
    {1, "Longitude", T_FLT, R, S, MAN},
    {2, "Altitude", T_FLT, R, S, OPT},
    {3, "Radius", T_FLT, R, S, OPT},
    {4, "Velocity", T_OPQ, R, S, OPT},
    {5, "Timestamp", T_TIME, R, S, MAN},
    {6, "Speed", T_FLT, R, S, OPT},
};

/* WLAN connectivity, object version 1.1 (urn:oma:lwm2m:oma:12:1.1). */
static const struct dk_lwm2m_resource_def wlan[] = {
    {0, "Interface name", T_STR, RW, S, MAN},
    {1, "Enable", T_BOOL, RW, S, MAN},
    {2, "Radio Enabled", T_INT, RW, S, OPT},
    {3, "Status", T_INT, R, S, MAN},
    {4, "BSSID", T_STR, R, S, MAN},
    {5, "SSID", T_STR, RW, S, MAN},
    {6, "Broadcast SSID", T_BOOL, RW, S, OPT},
    {7, "Beacon Enabled", T_BOOL, RW, S, OPT},
    {8, "Mode", T_INT, RW, S, MAN},
    {9, "Channel", T_INT, RW, S, MAN},
    {10, "Auto Channel", T_BOOL, RW, S, OPT},
    {11, "Supported Channels", T_INT, RW, M, OPT},
    {12, "Channels In Use", T_INT, RW, M, OPT},
    {13, "Regulatory Domain", T_STR, RW, S, OPT},
    {14, "Standard", T_INT, RW, S, MAN},
    {15, "Authentication Mode", T_INT, RW, S, MAN},
    {16, "Encryption Mode", T_INT, RW, S, OPT},
    {17, "WPA Pre Shared Key", T_STR, W, S, OPT},
    {18, "WPA Key Phrase", T_STR, W, S, OPT},
    {19, "WEP Encryption Type", T_INT, RW, S, OPT},
    {20, "WEP Key Index", T_INT, RW, S, OPT},
    {21, "WEP Key Phrase", T_STR, W, S, OPT},
    {22, "WEP Key 1", T_STR, W, S, OPT},
    {23, "WEP Key 2", T_STR, W, S, OPT},
    {24, "WEP Key 3", T_STR, W, S, OPT},
    {25, "WEP Key 4", T_STR, W, S, OPT},
    {26, "RADIUS Server", T_STR, RW, S, OPT},
    {27, "RADIUS Server Port", T_INT, RW, S, OPT},
    {28, "RADIUS Secret", T_STR, W, S, OPT},
    {29, "WMM Supported", T_BOOL, R, S, OPT},
    {30, "WMM Enabled", T_BOOL, RW, S, OPT},
    {31, "MAC Control Enabled", T_BOOL, RW, S, OPT},
    {32, "MAC Address List", T_STR, RW, M, OPT},
    {33, "Total Bytes Sent", T_INT, R, S, OPT},
    {34, "Total Bytes Received", T_INT, R, S, OPT},
    {35, "Total Packets Sent", T_INT, R, S, OPT},
    {36, "Total Packets Received", T_INT, R, S, OPT},
    {37, "Transmit Errors", T_INT, R, S, OPT},
    {38, "Receive Errors", T_INT, R, S, OPT},
    {39, "Unicast Packets Sent", T_INT, R, S, OPT},
    {40, "Unicast Packets Received", T_INT, R, S, OPT},
    {41, "Multicast Packets Sent", T_INT, R, S, OPT},
    {42, "Multicast Packets Received", T_INT, R, S, OPT},
    {43, "Broadcast Packets Sent", T_INT, R, S, OPT},
    {44, "Broadcast Packets Received", T_INT, R, S, OPT},
    {45, "Discard Packets Sent", T_INT, R, S, OPT},
    {46, "Discard Packets Received", T_INT, R, S, OPT},
    {47, "Unknown Packets Received", T_INT, R, S, OPT},
    {48, "Vendor specific extensions", T_LNK, R, S, OPT},
};

/* IPSO Illuminance 3301 and Temperature 3303, object version 1.0. */
static const struct dk_lwm2m_resource_def illuminance[] = {
    {5601, "Min Measured Value", T_FLT, R, S, OPT},
    {5602, "Max Measured Value", T_FLT, R, S, OPT},
    {5603, "Min Range Value", T_FLT, R, S, OPT},
    {5604, "Max Range Value", T_FLT, R, S, OPT},
    {5605, "Reset Min and Max Measured Values", T_NONE, E, S, OPT},
    {5700, "Sensor Value", T_FLT, R, S, MAN},
    {5701, "Sensor Units", T_STR, R, S, OPT},
};

static const struct dk_lwm2m_resource_def temperature[] = {
    {5601, "Min Measured Value", T_FLT, R, S, OPT},
    {5602, "Max Measured Value", T_FLT, R, S, OPT},
    {5603, "Min Range Value", T_FLT, R, S, OPT},
    {5604, "Max Range Value", T_FLT, R, S, OPT},
    {5605, "Reset Min and Max Measured Values", T_NONE, E, S, OPT},
    {5700, "Sensor Value", T_FLT, R, S, MAN},
    {5701, "Sensor Units", T_STR, R, S, OPT},
};

/* IPSO Light Control 3311, object version 1.0. */
static const struct dk_lwm2m_resource_def light_control[] = {
    {5701, "Sensor Units", T_STR, R, S, OPT},
    {5706, "Colour", T_STR, RW, S, OPT},
    {5750, "Application Type", T_STR, RW, S, OPT},
    {5805, "Cumulative active power", T_FLT, R, S, OPT},
    {5820, "Power factor", T_FLT, R, S, OPT},
    {5850, "On/Off", T_BOOL, RW, S, MAN},
    {5851, "Dimmer", T_INT, RW, S, OPT},
    {5852, "On time", T_INT, RW, S, OPT},
};

#define OBJ(id, name, ma, mi, multi, mand, res)                                                    \
    {id, name, ma, mi, multi, mand, res, sizeof res / sizeof res[0]}

static const struct dk_lwm2m_object_def objects[] = {
    OBJ(0, "LWM2M Security", 1, 1, M, MAN, security),
    OBJ(1, "LwM2M Server", 1, 1, M, MAN, server),
    OBJ(2, "LwM2M Access Control", 1, 1, M, OPT, access_control),
    OBJ(3, "Device", 1, 1, S, MAN, device),
    OBJ(5, "Firmware Update", 1, 0, S, OPT, firmware),
    OBJ(6, "Location", 1, 0, S, OPT, location),
    OBJ(12, "WLAN connectivity", 1, 1, M, OPT, wlan),
    OBJ(3301, "Illuminance", 1, 0, M, OPT, illuminance),
    OBJ(3303, "Temperature", 1, 0, M, OPT, temperature),
    OBJ(3311, "Light Control", 1, 0, M, OPT, light_control),
};

const struct dk_lwm2m_object_def *dk_lwm2m_object_defs(size_t *n)
{
    *n = sizeof objects / sizeof objects[0];
    return objects;
}

const struct dk_lwm2m_object_def *dk_lwm2m_object_def(uint16_t oid)
{
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        if (objects[i].id == oid)
            return &objects[i];
    return NULL;
}

const struct dk_lwm2m_resource_def *dk_lwm2m_resource_def(uint16_t oid, uint16_t rid)
{
    const struct dk_lwm2m_object_def *o = dk_lwm2m_object_def(oid);
    if (!o)
        return NULL;
    /* Binary search: tables are sorted by id (a unit test checks). */
    size_t lo = 0, hi = o->n_res;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (o->res[mid].id == rid)
            return &o->res[mid];
        if (o->res[mid].id < rid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
