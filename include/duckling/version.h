#ifndef DUCKLING_VERSION_H
#define DUCKLING_VERSION_H
#define DK_VERSION "0.1.0"
#endif
