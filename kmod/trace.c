// SPDX-License-Identifier: GPL-2.0
/*
 * The one place the trace events of kmod/mmsb_trace.h are instantiated;
 * every other file includes the header plainly to call them.
 */
#define CREATE_TRACE_POINTS
#include "mmsb_trace.h"
