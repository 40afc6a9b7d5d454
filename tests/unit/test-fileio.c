/* Unit tests for common/fileio.c: atomic replacement, modes, bounded reads. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/tether-fileio-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_atomic_write_and_mode(void **state)
{
	char path[128];
	snprintf(path, sizeof path, "%s/secret", dir);
	mode_t old = umask(0);
	assert_int_equal(fileio_write_atomic(path, "one", 3, 0600), 0);
	assert_int_equal(fileio_write_atomic(path, "second\0x", 8, 0600), 0);   /* replaces */
	umask(old);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	size_t len = 0;
	char *t = fileio_read(path, 64, &len);
	assert_non_null(t);
	assert_int_equal(len, 8);
	assert_memory_equal(t, "second\0x", 8);
	assert_int_equal(t[8], '\0');
	free(t);
	/* no temporary file is left behind */
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s/secret.%d.tmp", dir, (int)getpid());
	assert_int_equal(access(tmp, F_OK), -1);
}

static void test_bounded_read(void **state)
{
	char path[128];
	snprintf(path, sizeof path, "%s/big", dir);
	assert_int_equal(fileio_write_atomic(path, "0123456789", 10, 0644), 0);
	assert_null(fileio_read(path, 9, NULL));
	assert_int_equal(errno, EFBIG);
	char *t = fileio_read(path, 10, NULL);
	assert_string_equal(t, "0123456789");
	free(t);
	snprintf(path, sizeof path, "%s/absent", dir);
	assert_null(fileio_read(path, 10, NULL));
}

/* fileio_read_fd sizes its buffer by fstat: what is left after an offset,
 * a large file, a pipe (no size) and a file larger than its size says all
 * read whole. */
static void test_read_fd_sizes(void **state)
{
	char path[128];
	snprintf(path, sizeof path, "%s/sized", dir);
	size_t big = 100000, len = 0;
	char *data = malloc(big);
	assert_non_null(data);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + i % 26);
	assert_int_equal(fileio_write_atomic(path, data, big, 0600), 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	char *t = fileio_read_fd(fd, 1 << 20, &len);
	assert_int_equal(len, big);
	assert_memory_equal(t, data, big);
	assert_int_equal(t[big], '\0');
	free(t);
	assert_int_equal(lseek(fd, (off_t)(big - 4), SEEK_SET), (off_t)(big - 4));
	t = fileio_read_fd(fd, 4, &len);   /* the rest fits the bound exactly */
	assert_int_equal(len, 4);
	assert_memory_equal(t, data + big - 4, 4);
	free(t);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_null(fileio_read_fd(fd, big - 1, NULL));
	assert_int_equal(errno, EFBIG);
	close(fd);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], data, 5000), 5000);
	close(p[1]);
	t = fileio_read_fd(p[0], 8192, &len);
	assert_int_equal(len, 5000);
	assert_memory_equal(t, data, 5000);
	free(t);
	close(p[0]);
	free(data);
	/* a regular file whose size says 0 (procfs): the buffer grows as it reads */
	fd = open("/proc/self/status", O_RDONLY);
	assert_true(fd >= 0);
	t = fileio_read_fd(fd, 1 << 16, &len);
	assert_non_null(t);
	assert_true(len > 100 && strncmp(t, "Name:", 5) == 0 && strlen(t) == len);
	free(t);
	close(fd);
}

static void test_refuses_symlink(void **state)
{
	char path[128], link[128];
	snprintf(path, sizeof path, "%s/target", dir);
	snprintf(link, sizeof link, "%s/link", dir);
	assert_int_equal(fileio_write_atomic(path, "x", 1, 0600), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_null(fileio_read(link, 10, NULL));
	/* a write to the link's name replaces the link, not the file it points to */
	assert_int_equal(fileio_write_atomic(link, "y", 1, 0600), 0);
	char *t = fileio_read(path, 10, NULL);
	assert_string_equal(t, "x");
	free(t);
}

/* A FIFO in a file's place is refused at once (a blocking open would wait
 * for a writer forever); a hard link only by the untrusted reader. */
static void test_refuses_fifo_and_foreign_links(void **state)
{
	char path[128], fifo[128], hard[128];
	snprintf(path, sizeof path, "%s/plain", dir);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(hard, sizeof hard, "%s/hard", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_null(fileio_read(fifo, 10, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(fileio_read_untrusted(fifo, 10, NULL));
	assert_int_equal(fileio_open_regular(dir, false), -1);   /* a directory */
	assert_int_equal(fileio_write_atomic(path, "42", 2, 0600), 0);
	char *t = fileio_read_untrusted(path, 10, NULL);
	assert_string_equal(t, "42");
	free(t);
	assert_int_equal(link(path, hard), 0);
	assert_null(fileio_read_untrusted(hard, 10, NULL));
	assert_null(fileio_read_untrusted(path, 10, NULL));
	t = fileio_read(hard, 10, NULL);
	assert_string_equal(t, "42");
	free(t);
}

static void test_write_all_to_pipe(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fileio_write_all(p[1], "hello", 5), 0);
	char buf[8] = { 0 };
	assert_int_equal(read(p[0], buf, sizeof buf), 5);
	assert_string_equal(buf, "hello");
	close(p[0]);
	close(p[1]);
	assert_int_equal(fileio_write_all(p[1], "x", 1), -1);   /* closed fd */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_write_and_mode),
		cmocka_unit_test(test_bounded_read),
		cmocka_unit_test(test_read_fd_sizes),
		cmocka_unit_test(test_refuses_symlink),
		cmocka_unit_test(test_refuses_fifo_and_foreign_links),
		cmocka_unit_test(test_write_all_to_pipe),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
