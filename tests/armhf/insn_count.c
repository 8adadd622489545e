/* A QEMU TCG plugin that counts the guest's executed instructions and, at each marker, appends the count
 * so far to a file: `qemu-arm -plugin ./insn_count.so,out=FILE ...`. The guest marks a point with the
 * syscall sched_get_priority_max(MARK + k) (k < 256), which the kernel then refuses harmlessly; the
 * line written is "k count". Counting is inline (one add per translation block), so it costs little.
 *
 * Debian ships QEMU's plugin API without its header, so the part used here is declared below, as in
 * QEMU 7.2's include/qemu/qemu-plugin.h (plugin API version 1; later QEMU changed the inline calls,
 * so insns.sh checks for 7.x).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                                              uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                              uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

enum { ARM_NR_SCHED_GET_PRIORITY_MAX = 159, MARK = 0x7c0de000 };

static uint64_t executed;  /* all guest threads together: the measured code runs on one */
static FILE *out;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed,
                                             qemu_plugin_tb_n_insns(tb));
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1, uint64_t a2,
                       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
    if (num == ARM_NR_SCHED_GET_PRIORITY_MAX && a1 - MARK < 256) {
        fprintf(out, "%u %llu\n", (unsigned)(a1 - MARK), (unsigned long long)executed);
        fflush(out);  /* the guest reads the file while it runs */
    }
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    if (argc != 1 || strncmp(argv[0], "out=", 4) != 0) {
        fprintf(stderr, "insn_count: needs one argument, out=FILE\n");
        return -1;
    }
    out = fopen(argv[0] + 4, "a");
    if (!out) {
        perror(argv[0] + 4);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    return 0;
}
