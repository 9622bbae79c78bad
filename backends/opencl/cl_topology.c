/*
 * cl_topology.c — where an OpenCL device sits in the machine: hwloc's OpenCL helpers
 * (hwloc/opencl.h) on the context's topology (runtime/topology.h, tsr_topology_hwloc). The
 * topology itself knows no backend; this glue is the OpenCL backend's.
 */
#include "backends/opencl/opencl_backend.h"
#include "runtime/topology.h"

#include <CL/cl.h>
#include <hwloc.h>
#include <hwloc/opencl.h>

#include <stdio.h>

/* The only NUMA node whose memory is local to obj's cpus/nodes, or -1 if none or several. */
static int single_numa_node(hwloc_topology_t topo, hwloc_obj_t obj) {
    hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, obj);
    if (!anc || !anc->nodeset || hwloc_bitmap_weight(anc->nodeset) != 1) return -1;
    int os_index = hwloc_bitmap_first(anc->nodeset);
    hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(topo, (unsigned)os_index);
    return node ? (int)node->logical_index : -1;
}

/* Locality of an OpenCL device. Order of attempts:
 *  1. hwloc_opencl_get_device_osdev: the OpenCL OS device under its PCI device (AMD/NVIDIA
 *     drivers that expose a PCI bus id) → "PCI dddd:bb:dd.f, NUMA n";
 *  2. CL_DEVICE_TYPE_CPU (e.g. PoCL): no PCI object, the device runs on the host cores →
 *     "host cores", NUMA node 0 on single-node machines, else -1;
 *  3. hwloc_opencl_get_device_cpuset: a cpuset narrower than the machine names the close cores;
 *  4. otherwise "unknown", -1.
 * NULL topo or device gives "unknown" and -1. Thread-safe (read-only use of the topology). */
void tsr_topology_opencl_locality(const struct tsr_topology *topo, void *cl_device, char *buf,
                                  size_t buf_size, int *numa_node) {
    int numa = -1;
    if (buf && buf_size) snprintf(buf, buf_size, "unknown");
    if (!topo || !cl_device) {
        if (numa_node) *numa_node = -1;
        return;
    }
    cl_device_id dev = (cl_device_id)cl_device;
    hwloc_topology_t t = (hwloc_topology_t)tsr_topology_hwloc(topo);

    hwloc_obj_t osdev = hwloc_opencl_get_device_osdev(t, dev);
    if (osdev) {
        hwloc_obj_t pci = osdev->parent;
        numa = single_numa_node(t, osdev);
        if (pci && pci->type == HWLOC_OBJ_PCI_DEVICE) {
            if (buf && buf_size)
                snprintf(buf, buf_size, "PCI %04x:%02x:%02x.%01x, NUMA %d",
                         pci->attr->pcidev.domain, pci->attr->pcidev.bus, pci->attr->pcidev.dev,
                         pci->attr->pcidev.func, numa);
        } else if (buf && buf_size) {
            snprintf(buf, buf_size, "%s, NUMA %d", osdev->name ? osdev->name : "opencl", numa);
        }
        if (numa_node) *numa_node = numa;
        return;
    }

    cl_device_type type = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL) == CL_SUCCESS &&
        (type & CL_DEVICE_TYPE_CPU)) {
        numa = tsr_topology_cpu(topo)->numa_nodes == 1 ? 0 : -1;
        if (buf && buf_size) snprintf(buf, buf_size, "host cores");
        if (numa_node) *numa_node = numa;
        return;
    }

    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set && hwloc_opencl_get_device_cpuset(t, dev, set) == 0 &&
        !hwloc_bitmap_isequal(set, hwloc_topology_get_complete_cpuset(t)) &&
        !hwloc_bitmap_iszero(set)) {
        hwloc_obj_t obj = hwloc_get_obj_covering_cpuset(t, set);
        if (obj) numa = single_numa_node(t, obj);
        char cpus[32];
        hwloc_bitmap_list_snprintf(cpus, sizeof cpus, set);
        if (buf && buf_size) snprintf(buf, buf_size, "cpus %s, NUMA %d", cpus, numa);
    }
    hwloc_bitmap_free(set);
    if (numa_node) *numa_node = numa;
}
