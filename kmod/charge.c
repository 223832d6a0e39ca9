// SPDX-License-Identifier: GPL-2.0
/*
 * What each user makes the module hold, bounded by max_user_bytes: page
 * memory, the rings of the buses they create and the submission buffers
 * of their files.  All of it is also charged to the caller's memory cgroup
 * (GFP_KERNEL_ACCOUNT) where it is allocated.
 */
#include <linux/cred.h>
#include <linux/mutex.h>
#include <linux/user_namespace.h>
#include <linux/xarray.h>

#include "mmsb.h"

/* uid in the initial namespace -> bytes, stored as an xarray value. */
static DEFINE_XARRAY(mmsb_user_bytes);
static DEFINE_MUTEX(mmsb_user_lock);

/*
 * The user the caller's allocations are charged to: its fsuid, or, inside
 * a user namespace, the owner of the outermost namespace below the initial
 * one.  A namespace maps as many uids as its creator likes; were each one
 * charged on its own, a user could multiply its limit by creating one.
 */
kuid_t mmsb_charge_owner(void)
{
	const struct user_namespace *ns = current_user_ns();

	if (ns == &init_user_ns)
		return current_fsuid();
	while (ns->parent != &init_user_ns)
		ns = ns->parent;
	return ns->owner;
}

/*
 * Charges @bytes to @owner: 0, or -EDQUOT past max_user_bytes.  A caller
 * that may not block (@nowait) gets -EAGAIN where it would wait for the
 * lock or for memory.
 */
int mmsb_user_charge(kuid_t owner, u64 bytes, bool nowait)
{
	unsigned long key = from_kuid(&init_user_ns, owner);
	u64 used;
	int ret;

	if (!nowait)
		mutex_lock(&mmsb_user_lock);
	else if (!mutex_trylock(&mmsb_user_lock))
		return -EAGAIN;
	used = xa_to_value(xa_load(&mmsb_user_bytes, key) ?: xa_mk_value(0));
	if (used + bytes > READ_ONCE(mmsb_max_user_bytes))
		ret = -EDQUOT;
	else
		ret = xa_err(xa_store(&mmsb_user_bytes, key,
				      xa_mk_value(used + bytes),
				      nowait ? GFP_NOWAIT : GFP_KERNEL));
	mutex_unlock(&mmsb_user_lock);
	return nowait && ret == -ENOMEM ? -EAGAIN : ret;
}

void mmsb_user_uncharge(kuid_t owner, u64 bytes)
{
	unsigned long key = from_kuid(&init_user_ns, owner);
	u64 used;

	if (!bytes)
		return;
	mutex_lock(&mmsb_user_lock);
	used = xa_to_value(xa_load(&mmsb_user_bytes, key));
	if (WARN_ON_ONCE(used < bytes))
		used = bytes;
	if (used == bytes)
		xa_erase(&mmsb_user_bytes, key);
	else
		xa_store(&mmsb_user_bytes, key, xa_mk_value(used - bytes),
			 GFP_KERNEL | __GFP_NOFAIL);
	mutex_unlock(&mmsb_user_lock);
}
