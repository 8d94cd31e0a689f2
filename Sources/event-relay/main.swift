print("event-relay")
