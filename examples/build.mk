# SPDX-License-Identifier: GPL-2.0
#
# Examples of using MMSB without libmmsb.  examples/python/mmsb.py drives
# /dev/mmsb with the Python standard library alone; its test runs in the VM.
# examples/python/mmsb_log.py reads a transaction log the same way; its
# test, tests/log_pyref.c, compares it with libmmsb on the host.

VM_TESTS += examples/python/mmsb_python_test.py
