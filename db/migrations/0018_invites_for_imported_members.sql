-- An invitation can be for a member who exists already: a student imported from a class list
-- with an email gets a link to set their own password (SPEC 2: an admin invites members by
-- link). Accepting it signs that member in instead of creating a new one. NULL: the classic
-- invitation, which creates the member.
ALTER TABLE invites ADD COLUMN user_id INTEGER REFERENCES users(id);
