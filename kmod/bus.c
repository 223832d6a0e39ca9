// SPDX-License-Identifier: GPL-2.0
/*
 * Buses: the named groups of pages that files attach to.  A bus is created
 * by the first attach that asks for it and destroyed with its pages when
 * the last attached file is released (mappings hold their files).
 */
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/cred.h>
#include <linux/capability.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "mmsb.h"

/* Protects mmsb_buses, every bus's @attached and the bus id counter. */
static DEFINE_MUTEX(mmsb_buses_lock);
static LIST_HEAD(mmsb_buses);
static u64 mmsb_next_bus_id = 1;

static bool mmsb_bus_name_valid(const char *name)
{
	size_t len = strnlen(name, MMSB_BUS_NAME_MAX);
	size_t i;

	if (len == 0 || len == MMSB_BUS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum(name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

static struct mmsb_bus *mmsb_bus_find(const char *name)
{
	struct mmsb_bus *bus;

	lockdep_assert_held(&mmsb_buses_lock);
	list_for_each_entry(bus, &mmsb_buses, node)
		if (!strcmp(bus->name, name))
			return bus;
	return NULL;
}

/* As ipcperms(): owner, then group, then other bits; CAP_IPC_OWNER wins. */
static int mmsb_bus_permission(struct mmsb_bus *bus, fmode_t fmode)
{
	int need = 4 | ((fmode & FMODE_WRITE) ? 2 : 0);
	int granted = bus->mode;

	if (uid_eq(current_fsuid(), bus->uid))
		granted >>= 6;
	else if (in_group_p(bus->gid))
		granted >>= 3;
	if ((granted & need & 7) == need)
		return 0;
	return capable(CAP_IPC_OWNER) ? 0 : -EACCES;
}

/* The ring is charged to its creator, like the pages it allocates. */
static struct mmsb_bus *mmsb_bus_create(const struct mmsb_attach *arg)
{
	u64 ring_size = arg->ring_size ?: READ_ONCE(mmsb_default_ring_size);
	kuid_t owner = mmsb_charge_owner();
	struct mmsb_bus *bus;
	int ret;

	ret = mmsb_user_charge(owner, ring_size, false);
	if (ret)
		return ERR_PTR(ret);
	bus = kzalloc(sizeof(*bus), GFP_KERNEL_ACCOUNT);
	if (!bus) {
		ret = -ENOMEM;
		goto out_uncharge;
	}
	ret = mmsb_ring_init(&bus->ring, ring_size);
	if (ret)
		goto out_free;
	bus->ring_owner = owner;
	kref_init(&bus->ref);
	strscpy(bus->name, arg->name, sizeof(bus->name));
	bus->uid = current_fsuid();
	bus->gid = current_fsgid();
	bus->mode = arg->mode;
	init_rwsem(&bus->snapshot_lock);
	mutex_init(&bus->lock);
	xa_init(&bus->pages);
	bus->next_page_id = 1;
	INIT_LIST_HEAD(&bus->dirty);
	INIT_LIST_HEAD(&bus->twin_pool);
	atomic64_set(&bus->overruns, 0);
	bus->id = mmsb_next_bus_id++;
	mmsb_held_add(sizeof(*bus));
	return bus;

out_free:
	kfree(bus);
out_uncharge:
	mmsb_user_uncharge(owner, ring_size);
	return ERR_PTR(ret);
}

static void mmsb_bus_destroy(struct kref *ref)
{
	struct mmsb_bus *bus = container_of(ref, struct mmsb_bus, ref);

	list_del(&bus->node);
	mutex_unlock(&mmsb_buses_lock);

	mmsb_bus_free_pages(bus);
	mmsb_bus_free_twins(bus);
	xa_destroy(&bus->pages);
	mmsb_user_uncharge(bus->ring_owner, bus->ring.size);
	mmsb_ring_destroy(&bus->ring);
	if (bus->runs.cap) {
		kvfree(bus->runs.run);
		mmsb_held_add(-(s64)(bus->runs.cap * sizeof(struct mmsb_run)));
	}
	mutex_destroy(&bus->lock);
	kfree(bus);
	mmsb_held_add(-(s64)sizeof(*bus));
}

static int mmsb_attach_check(const struct mmsb_attach *arg)
{
	if (arg->flags & ~MMSB_ATTACH_ALL)
		return -EINVAL;
	if ((arg->flags & MMSB_ATTACH_EXCL) && !(arg->flags & MMSB_ATTACH_CREATE))
		return -EINVAL;
	if (arg->mode & ~0777U || arg->pad)
		return -EINVAL;
	if (arg->ring_size && (!is_power_of_2(arg->ring_size) ||
			       arg->ring_size < MMSB_RING_SIZE_MIN ||
			       arg->ring_size > READ_ONCE(mmsb_max_ring_size)))
		return -EINVAL;
	if (!mmsb_bus_name_valid(arg->name))
		return -EINVAL;
	return 0;
}

int mmsb_ctrl_attach(struct file *file, struct mmsb_attach *arg)
{
	struct mmsb_file *mf = file->private_data;
	struct mmsb_bus *bus;
	int ret;

	ret = mmsb_attach_check(arg);
	if (ret)
		return ret;
	arg->created = 0;

	mutex_lock(&mmsb_buses_lock);
	if (mf->bus) {
		ret = -EISCONN;
		goto out_unlock;
	}
	bus = mmsb_bus_find(arg->name);
	if (bus) {
		if (arg->flags & MMSB_ATTACH_EXCL) {
			ret = -EEXIST;
			goto out_unlock;
		}
		ret = mmsb_bus_permission(bus, file->f_mode);
		if (ret)
			goto out_unlock;
		kref_get(&bus->ref);
	} else {
		if (!(arg->flags & MMSB_ATTACH_CREATE)) {
			ret = -ENOENT;
			goto out_unlock;
		}
		bus = mmsb_bus_create(arg);
		if (IS_ERR(bus)) {
			ret = PTR_ERR(bus);
			goto out_unlock;
		}
		list_add(&bus->node, &mmsb_buses);
		arg->created = 1;
	}
	bus->attached++;
	arg->bus_id = bus->id;
	mmsb_stream_attach(mf, bus);
out_unlock:
	mutex_unlock(&mmsb_buses_lock);
	return ret;
}

void mmsb_bus_detach(struct mmsb_file *mf)
{
	struct mmsb_bus *bus = mf->bus;

	mutex_lock(&mmsb_buses_lock);
	bus->attached--;
	mutex_unlock(&mmsb_buses_lock);
	/* Takes mmsb_buses_lock for the last put, so a lookup never finds it. */
	kref_put_mutex(&bus->ref, mmsb_bus_destroy, &mmsb_buses_lock);
}

/* Adds @delta to the counters of @pg and of its bus.  Under bus->lock. */
void mmsb_bus_count(struct mmsb_bus *bus, struct mmsb_page *pg,
		    const struct mmsb_counters *delta)
{
	struct mmsb_counters *sets[] = { &bus->stats, &pg->stats };
	int i;

	lockdep_assert_held(&bus->lock);
	for (i = 0; i < ARRAY_SIZE(sets); i++) {
		sets[i]->wp_faults += delta->wp_faults;
		sets[i]->commits += delta->commits;
		sets[i]->bytes_diffed += delta->bytes_diffed;
		sets[i]->records += delta->records;
		sets[i]->record_bytes += delta->record_bytes;
	}
}

void mmsb_bus_info(struct mmsb_bus *bus, struct mmsb_bus_info *info)
{
	mutex_lock(&bus->lock);
	info->bus_id = bus->id;
	info->nr_pages = bus->nr_pages;
	info->bytes = bus->bytes;
	info->wp_faults = bus->stats.wp_faults;
	info->commits = bus->stats.commits;
	info->bytes_diffed = bus->stats.bytes_diffed;
	info->records = bus->stats.records;
	info->record_bytes = bus->stats.record_bytes;
	mutex_unlock(&bus->lock);

	mutex_lock(&bus->ring.lock);
	info->last_seq = bus->ring.head_seq - 1;
	info->ring_size = bus->ring.size;
	mutex_unlock(&bus->ring.lock);
	info->overruns = atomic64_read(&bus->overruns);
	info->attached = READ_ONCE(bus->attached);
}

int mmsb_buses_show(struct seq_file *m, void *unused)
{
	struct mmsb_bus_info info;
	struct mmsb_bus *bus;

	seq_puts(m, "id name pages bytes last_seq ring_size attached wp_faults commits bytes_diffed records record_bytes overruns\n");
	mutex_lock(&mmsb_buses_lock);
	list_for_each_entry(bus, &mmsb_buses, node) {
		mmsb_bus_info(bus, &info);
		seq_printf(m, "%llu %s %llu %llu %llu %llu %u %llu %llu %llu %llu %llu %llu\n",
			   info.bus_id, bus->name, info.nr_pages, info.bytes,
			   info.last_seq, info.ring_size, info.attached,
			   info.wp_faults, info.commits, info.bytes_diffed,
			   info.records, info.record_bytes, info.overruns);
	}
	mutex_unlock(&mmsb_buses_lock);
	return 0;
}
