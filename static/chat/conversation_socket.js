// One websocket to a conversation, reconnecting a second after a drop (the page then
// resumes each reply after the last frame it showed). The consumer's two refusals end it
// with a reason to show instead: 4401 (logged out) and 4404 (not yours, or gone).
const CLOSE_NOT_LOGGED_IN = 4401;
const CLOSE_NOT_FOUND = 4404;
const RECONNECT_MS = 1000;

// onOpen: after each (re)connection. onFrame: each frame, parsed. onRefused: the reason,
// worded for the page. wanted: whether a dropped connection is still worth reopening.
export function conversationSocket(conversationId, { onOpen, onFrame, onRefused, wanted = () => true }) {
  let socket = null;
  let closedHere = false;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/chat/${conversationId}/`);
    socket.addEventListener("open", onOpen);
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      if (event.code === CLOSE_NOT_LOGGED_IN) {
        onRefused(gettext("Your session has ended. Log in again to go on."));
      } else if (event.code === CLOSE_NOT_FOUND) {
        onRefused(gettext("This conversation is not available."));
      } else if (!closedHere && wanted()) {
        setTimeout(connect, RECONNECT_MS);
      }
    });
  }

  connect();
  return {
    // False while the connection is down: the caller keeps what the request carried.
    send(request) {
      if (socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(request));
      return true;
    },
    close() {
      closedHere = true;
      socket.close();
    },
  };
}
