// SPDX-License-Identifier: GPL-2.0
/*
 * MMSB: the Memory-Mapped State Bus.
 *
 * /dev/mmsb hands out named buses of pages that processes map and write
 * with plain stores.  The first store to each 4 KiB page after a commit
 * takes a write-protect fault that keeps a pre-image (a twin); a commit
 * write-protects the dirty pages in every mapping, diffs them against their
 * twins and appends one delta record per page to the bus's ring, which
 * every attached file reads with read(2).  See Documentation/.
 *
 * This file holds the character device, its ioctl dispatch, the pseudo
 * filesystem whose single address_space every file maps through (so that
 * write-protect and zap reach all mappings of a page, whichever file made
 * them), the module parameters and init/exit.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/pseudo_fs.h>
#include <linux/mount.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "mmsb.h"
#include "compat.h"
#include "mmsb_abi.h"

#define MMSB_FS_MAGIC	0x6d6d7362	/* "mmsb" */

unsigned long mmsb_max_page_size = 1UL << 30;
unsigned long mmsb_max_bus_bytes = 512UL << 20;
unsigned long mmsb_max_user_bytes = 1UL << 30;
unsigned int mmsb_default_ring_size = 1U << 20;
unsigned int mmsb_max_ring_size = 64U << 20;

static atomic64_t mmsb_bytes_held = ATOMIC64_INIT(0);

void mmsb_held_add(s64 bytes)
{
	atomic64_add(bytes, &mmsb_bytes_held);
}

static struct vfsmount *mmsb_mnt;
static int mmsb_mnt_count;
static struct inode *mmsb_inode;
struct address_space *mmsb_mapping;
static struct dentry *mmsb_debugfs;

static int mmsb_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, MMSB_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * No .owner: a pinned mount holding a module reference would make rmmod
 * fail for as long as the module is loaded.  The mount is released in
 * mmsb_exit() instead.
 */
static struct file_system_type mmsb_fs_type = {
	.name			= "mmsb",
	.init_fs_context	= mmsb_fs_init_fs_context,
	.kill_sb		= kill_anon_super,
};

static int mmsb_ch_open(struct inode *inode, struct file *file)
{
	struct mmsb_file *mf;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return -ENOMEM;
	mutex_init(&mf->read_lock);
	mutex_init(&mf->write_lock);
	init_waitqueue_head(&mf->wait);
	init_waitqueue_func_entry(&mf->ring_wake, mmsb_stream_forward_wake);
	mmsb_held_add(sizeof(*mf));

	file->private_data = mf;
	file->f_mapping = mmsb_mapping;
	stream_open(inode, file);
	/* io_uring then issues writes inline; submission honours IOCB_NOWAIT. */
	file->f_mode |= FMODE_NOWAIT;
	return 0;
}

static int mmsb_ch_release(struct inode *inode, struct file *file)
{
	struct mmsb_file *mf = file->private_data;

	if (mf->bus) {
		mmsb_stream_detach(mf, &mf->bus->ring);
		mmsb_bus_detach(mf);
	}
	mutex_destroy(&mf->read_lock);
	mutex_destroy(&mf->write_lock);
	kvfree(mf->wbuf);
	mmsb_user_uncharge(mf->wbuf_owner, mf->wbuf_size);
	mmsb_held_add(-(s64)(sizeof(*mf) + mf->wbuf_size));
	kfree(mf);
	return 0;
}

static int mmsb_ctrl_version(struct mmsb_version *arg)
{
	arg->api = MMSB_API_VERSION;
	arg->features = MMSB_FEAT_CAPTURE | MMSB_FEAT_STREAM | MMSB_FEAT_SUBMIT |
			MMSB_FEAT_SNAPSHOT;
	arg->max_page_size = min_t(u64, mmsb_max_page_size, MMSB_PAGE_SIZE_LIMIT);
	arg->max_ring_size = READ_ONCE(mmsb_max_ring_size);
	return 0;
}

/*
 * Every command's argument is one struct, extensible by size: the size is
 * the one in the ioctl number (copy_struct_from_user() semantics in, the
 * common prefix out, the rest of a longer user struct zeroed).
 */
union mmsb_ioc_arg {
	struct mmsb_version version;
	struct mmsb_attach attach;
	struct mmsb_bus_info bus_info;
	struct mmsb_page_alloc page_alloc;
	struct mmsb_page_free page_free;
	struct mmsb_page_info page_info;
	struct mmsb_page_list page_list;
	struct mmsb_commit commit;
	struct mmsb_stream_info stream_info;
	struct mmsb_page_restore page_restore;
	struct mmsb_snapshot snapshot;
};

static long mmsb_ioc_dispatch(struct file *file, unsigned int cmd,
			      union mmsb_ioc_arg *arg)
{
	struct mmsb_file *mf = file->private_data;
	struct mmsb_bus *bus;

	switch (_IOC_NR(cmd)) {
	case _IOC_NR(MMSB_IOC_VERSION):
		return mmsb_ctrl_version(&arg->version);
	case _IOC_NR(MMSB_IOC_ATTACH):
		return mmsb_ctrl_attach(file, &arg->attach);
	}

	bus = mmsb_file_bus(mf);
	if (!bus)
		return -ENOTCONN;

	switch (_IOC_NR(cmd)) {
	case _IOC_NR(MMSB_IOC_BUS_INFO):
		mmsb_bus_info(bus, &arg->bus_info);
		return 0;
	case _IOC_NR(MMSB_IOC_PAGE_INFO):
		return mmsb_ctrl_page_info(bus, &arg->page_info);
	case _IOC_NR(MMSB_IOC_PAGE_LIST):
		return mmsb_ctrl_page_list(bus, &arg->page_list);
	case _IOC_NR(MMSB_IOC_STREAM_INFO):
		return mmsb_ctrl_stream_info(mf, &arg->stream_info);
	case _IOC_NR(MMSB_IOC_SNAPSHOT):
		return mmsb_ctrl_snapshot(bus, &arg->snapshot);
	}

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;

	switch (_IOC_NR(cmd)) {
	case _IOC_NR(MMSB_IOC_PAGE_ALLOC):
		return mmsb_ctrl_page_alloc(bus, &arg->page_alloc);
	case _IOC_NR(MMSB_IOC_PAGE_FREE):
		return mmsb_ctrl_page_free(bus, &arg->page_free);
	case _IOC_NR(MMSB_IOC_COMMIT):
		return mmsb_ctrl_commit(bus, &arg->commit);
	case _IOC_NR(MMSB_IOC_PAGE_RESTORE):
		return mmsb_ctrl_page_restore(bus, &arg->page_restore);
	}
	return -ENOTTY;
}

/* The canonical number of each command, to check the direction bits. */
static unsigned int mmsb_ioc_canonical(unsigned int nr)
{
	static const unsigned int cmds[] = {
		MMSB_IOC_VERSION, MMSB_IOC_ATTACH, MMSB_IOC_BUS_INFO,
		MMSB_IOC_PAGE_ALLOC, MMSB_IOC_PAGE_FREE, MMSB_IOC_PAGE_INFO,
		MMSB_IOC_PAGE_LIST, MMSB_IOC_PAGE_RESTORE, MMSB_IOC_COMMIT,
		MMSB_IOC_STREAM_INFO, MMSB_IOC_SNAPSHOT,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (_IOC_NR(cmds[i]) == nr)
			return cmds[i];
	return 0;
}

static long mmsb_ch_ioctl(struct file *file, unsigned int cmd,
			  unsigned long uarg)
{
	void __user *uptr = (void __user *)uarg;
	unsigned int canonical = mmsb_ioc_canonical(_IOC_NR(cmd));
	size_t ksize = _IOC_SIZE(canonical);
	size_t usize = _IOC_SIZE(cmd);
	union mmsb_ioc_arg arg;
	long ret;

	if (_IOC_TYPE(cmd) != MMSB_IOC_MAGIC || !canonical ||
	    _IOC_DIR(cmd) != _IOC_DIR(canonical))
		return -ENOTTY;
	if (usize < sizeof(__u64))
		return -EINVAL;

	memset(&arg, 0, sizeof(arg));
	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		ret = copy_struct_from_user(&arg, ksize, uptr, usize);
		if (ret)
			return ret;
	}

	ret = mmsb_ioc_dispatch(file, cmd, &arg);
	if (ret < 0)
		return ret;

	if (_IOC_DIR(cmd) & _IOC_READ) {
		if (copy_to_user(uptr, &arg, min(ksize, usize)))
			return -EFAULT;
		if (usize > ksize && clear_user(uptr + ksize, usize - ksize))
			return -EFAULT;
	}
	return ret;
}

static const struct file_operations mmsb_ch_fops = {
	.owner		= THIS_MODULE,
	.open		= mmsb_ch_open,
	.release	= mmsb_ch_release,
	.unlocked_ioctl	= mmsb_ch_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
#ifdef MMSB_MMAP_PREPARE
	.mmap_prepare	= mmsb_ch_mmap_prepare,
#else
	.mmap		= mmsb_ch_mmap,
#endif
	.read		= mmsb_ch_read,
	.write_iter	= mmsb_ch_write_iter,
	.poll		= mmsb_ch_poll,
};

static struct miscdevice mmsb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mmsb",
	.fops	= &mmsb_ch_fops,
	.mode	= 0666,
};

static int mmsb_buses_open(struct inode *inode, struct file *file)
{
	return single_open(file, mmsb_buses_show, NULL);
}

static const struct file_operations mmsb_buses_fops = {
	.owner		= THIS_MODULE,
	.open		= mmsb_buses_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= single_release,
};

static int __init mmsb_init(void)
{
	int ret;

	ret = simple_pin_fs(&mmsb_fs_type, &mmsb_mnt, &mmsb_mnt_count);
	if (ret)
		return ret;
	mmsb_inode = alloc_anon_inode(mmsb_mnt->mnt_sb);
	if (IS_ERR(mmsb_inode)) {
		ret = PTR_ERR(mmsb_inode);
		goto out_release_fs;
	}
	mmsb_mapping = mmsb_inode->i_mapping;

	ret = misc_register(&mmsb_misc);
	if (ret)
		goto out_iput;

	mmsb_debugfs = debugfs_create_dir("mmsb", NULL);
	debugfs_create_file("buses", 0400, mmsb_debugfs, NULL, &mmsb_buses_fops);
	debugfs_create_atomic_t("twin_alloc_failures", 0600, mmsb_debugfs,
				&mmsb_twin_failures);
	return 0;

out_iput:
	iput(mmsb_inode);
out_release_fs:
	simple_release_fs(&mmsb_mnt, &mmsb_mnt_count);
	return ret;
}

static void __exit mmsb_exit(void)
{
	debugfs_remove_recursive(mmsb_debugfs);
	misc_deregister(&mmsb_misc);
	iput(mmsb_inode);
	simple_release_fs(&mmsb_mnt, &mmsb_mnt_count);
	WARN_ON_ONCE(atomic64_read(&mmsb_bytes_held));
}

module_init(mmsb_init);
module_exit(mmsb_exit);

static int mmsb_bytes_held_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&mmsb_bytes_held));
}

static const struct kernel_param_ops mmsb_bytes_held_ops = {
	.get = mmsb_bytes_held_get,
};

module_param_cb(bytes_held, &mmsb_bytes_held_ops, NULL, 0444);
MODULE_PARM_DESC(bytes_held, "Bytes of memory the module holds now");
module_param_named(max_page_size, mmsb_max_page_size, ulong, 0644);
MODULE_PARM_DESC(max_page_size, "Largest page in bytes (at most 1 GiB)");
module_param_named(max_bus_bytes, mmsb_max_bus_bytes, ulong, 0644);
MODULE_PARM_DESC(max_bus_bytes, "Page bytes one bus may hold");
module_param_named(max_user_bytes, mmsb_max_user_bytes, ulong, 0644);
MODULE_PARM_DESC(max_user_bytes, "Bytes one user may make the module hold (pages, rings, write buffers), all buses together");
/*
 * Ring positions are masked with the size, so a ring size that is not a
 * power of two would lay records over one another: refused at load and
 * on write alike.
 */
static int mmsb_ring_size_set(const char *val, const struct kernel_param *kp)
{
	unsigned int size;
	int ret;

	ret = kstrtouint(val, 0, &size);
	if (ret)
		return ret;
	if (!is_power_of_2(size) || size < MMSB_RING_SIZE_MIN ||
	    size > MMSB_RING_SIZE_MAX)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, size);
	return 0;
}

static const struct kernel_param_ops mmsb_ring_size_ops = {
	.set = mmsb_ring_size_set,
	.get = param_get_uint,
};

module_param_cb(default_ring_size, &mmsb_ring_size_ops,
		&mmsb_default_ring_size, 0644);
MODULE_PARM_DESC(default_ring_size, "Delta ring bytes of a bus created without ring_size (a power of two, 64 KiB to 1 GiB)");
module_param_cb(max_ring_size, &mmsb_ring_size_ops, &mmsb_max_ring_size,
		0644);
MODULE_PARM_DESC(max_ring_size, "Largest delta ring in bytes (a power of two, 64 KiB to 1 GiB)");

MODULE_DESCRIPTION("Memory-Mapped State Bus: mapped pages whose stores become versioned deltas");
MODULE_LICENSE("GPL");
