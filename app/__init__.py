"""Chat persistence of the todo app's AI chatbot: the Python layer over the SQL functions of schema ``chat``."""
