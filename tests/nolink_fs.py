"""A FUSE passthrough filesystem whose ``link()`` fails, as on vfat, exFAT,
gcsfuse, s3fs or Google Drive in Colab: for the tests of filesystems without
hard links.

    python tests/nolink_fs.py ROOT MOUNTPOINT

mounts ROOT at MOUNTPOINT in the foreground (until unmounted or killed).
Every operation passes through to ROOT, except ``link``, which fails with
EPERM (what vfat returns).  Needs fusepy and libfuse2 (Debian: ``libfuse2``).
"""

from __future__ import annotations

import errno
import os
import sys

from fuse import FUSE, FuseOSError, Operations


class NoHardLinks(Operations):
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    # -- what makes it a filesystem without hard links -------------------

    def link(self, target, source):
        raise FuseOSError(errno.EPERM)

    # -- plain passthrough ------------------------------------------------

    def access(self, path, mode):
        if not os.access(self._full(path), mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        return os.chmod(self._full(path), mode)

    def chown(self, path, uid, gid):
        return os.chown(self._full(path), uid, gid)

    def getattr(self, path, fh=None):
        st = os.lstat(self._full(path))
        keys = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size", "st_uid", "st_ino")
        return {key: getattr(st, key) for key in keys}

    def readdir(self, path, fh):
        return [".", "..", *os.listdir(self._full(path))]

    def readlink(self, path):
        return os.readlink(self._full(path))

    def mknod(self, path, mode, dev):
        return os.mknod(self._full(path), mode, dev)

    def rmdir(self, path):
        return os.rmdir(self._full(path))

    def mkdir(self, path, mode):
        return os.mkdir(self._full(path), mode)

    def statfs(self, path):
        st = os.statvfs(self._full(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize")
        keys += ("f_namemax",)
        return {key: getattr(st, key) for key in keys}

    def unlink(self, path):
        return os.unlink(self._full(path))

    def symlink(self, name, target):
        return os.symlink(target, self._full(name))

    def rename(self, old, new):
        return os.replace(self._full(old), self._full(new))

    def utimens(self, path, times=None):
        return os.utime(self._full(path), times)

    def open(self, path, flags):
        return os.open(self._full(path), flags)

    def create(self, path, mode, fi=None):
        return os.open(self._full(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, buf, offset, fh):
        return os.pwrite(fh, buf, offset)

    def truncate(self, path, length, fh=None):
        with open(self._full(path), "r+") as handle:
            handle.truncate(length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return os.close(fh)

    def fsync(self, path, fdatasync, fh):
        return os.fsync(fh)


if __name__ == "__main__":
    root, mountpoint = sys.argv[1:3]
    FUSE(NoHardLinks(root), mountpoint, foreground=True, nothreads=True, use_ino=True)
