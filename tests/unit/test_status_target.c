// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_status_target.c - get_info's "target" (status_target()): the fields for each kind of
 * target and the nsenter command, which must not join a user namespace that is the caller's
 * own and must quote paths the shell would split. (nsenter_hint.sh runs the commands.)
 */
#include "config.h"
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

static char *target_text(const struct options *opt)
{
	json_t *t = status_target(opt);
	char *s = json_dumps(t, JSON_COMPACT);
	json_decref(t);
	return s;
}

Test(status_target, pid_in_another_user_namespace)
{
	/* No such process: nothing says it shares our user namespace, so nsenter joins its. */
	struct options opt = {.netns_type = NETNS_PID, .target_pid = 999999999};
	status_probe_target(&opt);
	char *s = target_text(&opt);
	cr_assert_str_eq(s,
	                 "{\"type\":\"pid\",\"pid\":999999999,\"netns_path\":"
	                 "\"/proc/999999999/ns/net\",\"userns_path\":\"/proc/999999999/ns/user\","
	                 "\"nsenter\":\"nsenter --preserve-credentials -U -n -t 999999999\"}");
	free(s);
}

Test(status_target, pid_in_our_own_user_namespace)
{
	struct options opt = {.netns_type = NETNS_PID, .target_pid = getpid()};
	json_t *t = status_target(&opt); /* probes on first use */
	g_autofree char *want = g_strdup_printf("nsenter -n -t %d", (int)getpid());
	cr_assert_str_eq(json_string_value(json_object_get(t, "nsenter")), want);
	json_decref(t);
}

Test(status_target, path_with_userns_is_quoted)
{
	struct options opt = {.netns_type = NETNS_PATH,
	                      .target_path = "/run/user/1000/netns/my ns",
	                      .userns_path = "/proc/999999999/ns/user"};
	status_probe_target(&opt);
	char *s = target_text(&opt);
	cr_assert_str_eq(s,
	                 "{\"type\":\"path\",\"pid\":null,\"netns_path\":"
	                 "\"/run/user/1000/netns/my ns\",\"userns_path\":"
	                 "\"/proc/999999999/ns/user\",\"nsenter\":\"nsenter --preserve-credentials "
	                 "--user=/proc/999999999/ns/user --net='/run/user/1000/netns/my ns'\"}");
	free(s);
}

Test(status_target, path_without_userns)
{
	struct options opt = {.netns_type = NETNS_PATH, .target_path = "/run/netns/ctr"};
	json_t *t = status_target(&opt);
	cr_assert_str_eq(json_string_value(json_object_get(t, "nsenter")),
	                 "nsenter --net=/run/netns/ctr");
	cr_assert(json_is_null(json_object_get(t, "userns_path")));
	json_decref(t);
}

Test(status_target, tapfd_and_bess_have_no_command)
{
	struct options opt = {.netns_type = NETNS_TAPFD, .target_tapfd = 3};
	char *s = target_text(&opt);
	cr_assert_str_eq(s, "{\"type\":\"tapfd\",\"pid\":null,\"netns_path\":null,"
	                    "\"userns_path\":null,\"nsenter\":null}");
	free(s);
	opt = (struct options){.netns_type = NETNS_NONE, .target_type = TARGET_BESS};
	s = target_text(&opt);
	cr_assert_str_eq(s, "{\"type\":\"bess\",\"pid\":null,\"netns_path\":null,"
	                    "\"userns_path\":null,\"nsenter\":null}");
	free(s);
}
