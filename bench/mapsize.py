"""Where the bytes of a linked program go: a GNU ld map file, summed per
library layer (text+data of allocated sections; bss and debug left out).
Used by bench/run for the footprint table (docs/performance.md)."""
import re

# Output sections that `size` counts as text or data (Berkeley format).
_COUNTED = re.compile(r'^\.(text|rodata|data|init|fini|init_array|fini_array|ARM\.ex|eh_frame|'
                      r'gcc_except_table|got|plt|rel|dynamic|dynsym|dynstr|gnu|hash|interp|'
                      r'note|tdata|preinit_array|jcr)')
_SKIP = re.compile(r'^\.(bss|tbss|debug|comment|ARM\.attributes|stab|note\.gnu\.build-id$)')


def _owner(path):
    m = re.search(r'lib(dk_[a-z0-9_]+)\.a\(', path)
    if m:
        name = m.group(1)
        if name.startswith('dk_mb_'):
            return 'mbedtls'
        if name.startswith('dk_dtls'):
            return 'dtls'
        return name[3:]
    if 'duckling-device.dir' in path:
        return 'app'
    return 'libc/crt'


def breakdown(map_path):
    """Returns {owner: bytes} for the counted sections of a GNU ld map."""
    out = {}
    section = None
    pending = None  # an input section name whose address/size is on the next line
    in_memory_map = False
    for line in open(map_path, errors='replace'):
        if line.startswith('Linker script and memory map'):
            in_memory_map = True
            continue
        if not in_memory_map:
            continue
        m = re.match(r'^(\.[^\s]+)', line)
        if m:  # an output section
            section = m.group(1)
            pending = None
            continue
        if section is None or _SKIP.match(section) or not _COUNTED.match(section):
            continue
        m = re.match(r'^ (\.[^\s]+|COMMON)\s*$', line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r'^ (\.[^\s]+|COMMON)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$', line)
        if m and (m.group(1) or pending):
            size = int(m.group(3), 16)
            owner = _owner(m.group(4))
            out[owner] = out.get(owner, 0) + size
            pending = None
            continue
        pending = None
    return out
