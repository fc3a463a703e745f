// Package imapmsg is what IMAP says about a message's bytes as stored
// (RFC 9051 §6.4.5, §7.5.2): the MIME tree as byte ranges, the body
// sections and BINARY decoding that name its parts, and the wire forms of
// ENVELOPE, BODYSTRUCTURE and BODY. imapd uses it to answer FETCH from a
// file; message.ReadInfo uses it at delivery so that the store keeps the
// same wire forms and FETCH need not open the file (Described).
package imapmsg
