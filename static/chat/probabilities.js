// The token-probability view (being written).
export function probabilitiesInit(list, conversationId) {}
export function probabilitiesAttach(article) {}
