/* SPDX-License-Identifier: MIT */
/* ir_fold.c - system messages inside the conversation folded for targets
 * that have no such role (see ir_fold.h). */
#include <string.h>

#include "ir_fold.h"
#include "mem.h"

/* Move part *src into m at position pos (0..m->nparts); src is left empty
 * so that it is owned once. */
static enum relay_err
move_part(struct ir_msg *m, size_t pos, struct ir_part *src)
{
	struct ir_part *p;
	enum relay_err err;

	err = ir_msg_add_part(m, src->type, &p);
	if (err != RELAY_OK)
		return err;
	if (pos < m->nparts - 1)
		memmove(&m->parts[pos + 1], &m->parts[pos],
		    (m->nparts - 1 - pos) * sizeof(*m->parts));
	m->parts[pos] = *src;
	memset(src, 0, sizeof(*src));
	return RELAY_OK;
}

/* Move every part of src into dst from position pos on, in order. */
static enum relay_err
move_parts(struct ir_msg *dst, size_t pos, struct ir_msg *src)
{
	enum relay_err err;
	size_t i;

	for (i = 0; i < src->nparts; i++) {
		if (src->parts[i].type == IR_PART__MAX)
			continue; /* moved already by a run cut short */
		err = move_part(dst, pos++, &src->parts[i]);
		if (err != RELAY_OK)
			return err;
		src->parts[i].type = IR_PART__MAX;
	}
	return RELAY_OK;
}

/* The index of the first part of m that is not a tool result. */
static size_t
after_results(const struct ir_msg *m)
{
	size_t k = 0;

	while (k < m->nparts && m->parts[k].type == IR_PART_TOOL_RESULT)
		k++;
	return k;
}

/* Drop message i (its parts all moved out). */
static void
drop_msg(struct ir_request *r, size_t i)
{
	ir_msg_reset(&r->msgs[i]);
	memmove(&r->msgs[i], &r->msgs[i + 1],
	    (r->nmsgs - i - 1) * sizeof(*r->msgs));
	r->nmsgs--;
}

/* The first message after i that is not a system message, or NULL. */
static struct ir_msg *
next_turn(struct ir_request *r, size_t i)
{
	for (i++; i < r->nmsgs; i++)
		if (r->msgs[i].role != IR_ROLE_SYSTEM)
			return &r->msgs[i];
	return NULL;
}

enum relay_err
ir_fold_system(struct ir_request *r)
{
	/* Where the last system message went into the next user message,
	 * so that the one after it lands behind it, not before. */
	struct ir_msg *into = NULL, *next;
	size_t i = 0, at = 0, n;
	enum relay_err err;

	while (i < r->nmsgs) {
		struct ir_msg *m = &r->msgs[i];

		if (m->role != IR_ROLE_SYSTEM) {
			into = NULL;
			i++;
			continue;
		}
		next = next_turn(r, i);
		n = m->nparts;
		if (i == 0) {
			err = move_parts(&r->system, r->system.nparts, m);
		} else if (r->msgs[i - 1].role == IR_ROLE_USER) {
			err = move_parts(
			    &r->msgs[i - 1], r->msgs[i - 1].nparts, m);
		} else if (next != NULL && next->role == IR_ROLE_USER) {
			if (into != next) {
				into = next;
				at = after_results(next);
			}
			err = move_parts(next, at, m);
			at += n;
		} else {
			m->role = IR_ROLE_USER;
			i++;
			continue;
		}
		if (err != RELAY_OK)
			return err;
		/* next points into r->msgs: it moves down with the drop. */
		if (into != NULL && into > &r->msgs[i])
			into--;
		drop_msg(r, i);
	}
	return RELAY_OK;
}
