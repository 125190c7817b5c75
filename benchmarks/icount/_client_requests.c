/* Callgrind client requests for the icount drivers, loaded through ctypes.
 *
 * run.py starts valgrind with --instr-atstart=no and builds this file with the C
 * compiler when one is there: the interpreter, the imports and the warm-up then run
 * uninstrumented (about ten times faster under valgrind), and only the measured
 * loop between icount_start() and icount_stop() is counted. Outside valgrind both
 * are no-ops.
 */
#include <valgrind/callgrind.h>

void icount_start(void) {
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
}

void icount_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
