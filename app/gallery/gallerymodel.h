// The gallery: every kept image of the history (HistoryStore), filtered by
// prompt text, favourites and model, sorted by date, for a QML GridView.
//
//   the filter (searchText,           → a new query: the rows are replaced
//   favouritesOnly, model,              (one reset, after a zero timer, so
//   newestFirst)                        setting three filters queries once)
//   HistoryStore::changed             → the same query again; the rows that
//                                       went, came or changed are removed,
//                                       inserted or updated one by one (the
//                                       grid keeps its place), and the disk
//                                       usage and model list are read anew;
//                                       a storm of signals is one reload
//   the grid scrolls                  → fetchMore(): the next page (kPage
//                                       rows, HistoryQuery offset/limit), so
//                                       10,000 entries never load at once
//
// Deleting is soft: remove() hides the entry (HistoryStore::remove) and
// offers undo() for undoWindow(); then, or at the next remove(), clear or
// removeAllButFavourites(), the entry is purged (row and PNG deleted). The
// result actions (save as, copy, re-run, …) are ChatController's, called
// with the entry's id: history ids are job ids. GUI thread only. Exposed to
// QML as the GalleryModel singleton (the instance Application owns).
#pragma once

#include "storage/historystore.h"

#include <QAbstractListModel>
#include <QList>
#include <QStringList>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

#include <chrono>

class QQmlEngine;
class QJSEngine;

namespace daub {

class GalleryModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    /// Shows entries whose prompt contains this text (case-insensitive).
    Q_PROPERTY(QString searchText READ searchText WRITE setSearchText NOTIFY searchTextChanged)
    Q_PROPERTY(bool favouritesOnly READ favouritesOnly WRITE setFavouritesOnly NOTIFY
                   favouritesOnlyChanged)
    /// Shows the images of this model only; "" = every model.
    Q_PROPERTY(QString model READ model WRITE setModel NOTIFY modelChanged)
    Q_PROPERTY(bool newestFirst READ newestFirst WRITE setNewestFirst NOTIFY newestFirstChanged)
    /// The models of the kept images, sorted (the filter's choices).
    Q_PROPERTY(QStringList models READ models NOTIFY modelsChanged)
    /// How many entries match the filter (rows load page by page).
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    /// How many images the history keeps, whatever the filter ("No images
    /// yet" when 0, "Nothing matches" when count is 0 but this is not).
    Q_PROPERTY(int totalCount READ totalCount NOTIFY countChanged)
    /// How many of them are favourites ("delete all but favourites" keeps them).
    Q_PROPERTY(int favouriteCount READ favouriteCount NOTIFY countChanged)
    /// Bytes the history takes on disk (database and PNGs), and as text.
    Q_PROPERTY(qint64 diskUsage READ diskUsage NOTIFY diskUsageChanged)
    Q_PROPERTY(QString diskUsageText READ diskUsageText NOTIFY diskUsageChanged)
    /// The history's folder (the settings show it).
    Q_PROPERTY(QString folder READ folder NOTIFY diskUsageChanged)
    /// A removal can be undone ("Deleted 1 image").
    Q_PROPERTY(bool canUndo READ canUndo NOTIFY undoChanged)
    Q_PROPERTY(QString undoText READ undoText NOTIFY undoChanged)

public:
    enum Role {
        IdRole = Qt::UserRole + 1, ///< "entryId" (QML cannot read a role called "id")
        ImageSourceRole,           ///< file: URL of the PNG
        PromptRole,
        NegativePromptRole,
        ModelRole,   ///< "modelName" ("model" is the delegate's own)
        CreatedRole, ///< QDateTime (local time)
        CreatedTextRole,
        FavouriteRole,
        WidthRole,
        HeightRole,
        SeedRole,
        ParametersRole,
    };
    Q_ENUM(Role)

    /// Rows a page brings (fetchMore), unless setPageSize() says otherwise.
    static constexpr int kPage = 120;
    static constexpr std::chrono::milliseconds kUndoWindow{10000};

    /// `store` must outlive the model; it may be opened later (refresh()).
    explicit GalleryModel(HistoryStore* store, QObject* parent = nullptr);
    /// Purges a removal still waiting for its undo.
    ~GalleryModel() override;

    /// The QML singleton: the instance set with setInstance() (C++ owns it).
    static GalleryModel* create(QQmlEngine*, QJSEngine*);
    static void setInstance(GalleryModel* instance);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    bool canFetchMore(const QModelIndex& parent) const override;
    void fetchMore(const QModelIndex& parent) override;

    /// The row of entry `id` among the loaded ones, or -1.
    Q_INVOKABLE int rowOf(qint64 id) const;
    /// The entry at `row` as a map of the role names ({} when out of range).
    Q_INVOKABLE QVariantMap get(int row) const;
    /// Loads the next page (the grid's fetchMore, also from QML).
    Q_INVOKABLE void loadMore();

    Q_INVOKABLE bool setFavourite(qint64 id, bool favourite);
    /// Hides the entry; undo() brings it back within undoWindow().
    Q_INVOKABLE bool remove(qint64 id);
    /// Brings the last removal back; false when there is none.
    Q_INVOKABLE bool undo();
    /// Deletes every image that is not a favourite, for good (no undo);
    /// returns how many entries went.
    Q_INVOKABLE int removeAllButFavourites();
    /// Queries the store again now (also after it was opened).
    Q_INVOKABLE void refresh();

    /// Rows per page (at least 1); applies from the next query.
    void setPageSize(int rows);
    int pageSize() const { return m_pageSize; }
    /// How long a removal waits for undo() before it is purged.
    void setUndoWindow(std::chrono::milliseconds window);
    std::chrono::milliseconds undoWindow() const;

    QString searchText() const { return m_query.text; }
    void setSearchText(const QString& text);
    bool favouritesOnly() const { return m_query.favouritesOnly; }
    void setFavouritesOnly(bool on);
    QString model() const { return m_query.model; }
    void setModel(const QString& model);
    bool newestFirst() const { return m_query.newestFirst; }
    void setNewestFirst(bool newestFirst);
    QStringList models() const { return m_models; }
    int count() const { return m_count; }
    int totalCount() const { return m_totalCount; }
    int favouriteCount() const { return m_favouriteCount; }
    qint64 diskUsage() const { return m_diskUsage; }
    QString diskUsageText() const;
    QString folder() const;
    bool canUndo() const { return !m_pendingRemoval.isEmpty(); }
    QString undoText() const;

    /// "12.3 MB" (decimal units, the user's locale).
    static QString formatBytes(qint64 bytes);

Q_SIGNALS:
    void searchTextChanged();
    void favouritesOnlyChanged();
    void modelChanged();
    void newestFirstChanged();
    void modelsChanged();
    void countChanged();
    void diskUsageChanged();
    void undoChanged();

private:
    /// Queries again after the event loop's turn: `reset` replaces the rows
    /// (a new filter), else they are merged (the store changed).
    void schedule(bool reset);
    void reload();
    /// Replaces the loaded rows by `fresh` (the same query, same order)
    /// with the fewest removals, insertions and changes.
    void merge(const QList<HistoryEntry>& fresh);
    void readTotals();
    /// Deletes the removal waiting for undo, for good.
    void purgePending();

    HistoryStore* m_store;
    HistoryQuery m_query;
    QList<HistoryEntry> m_rows;
    QStringList m_models;
    int m_count = 0;
    int m_totalCount = 0;
    int m_favouriteCount = 0;
    qint64 m_diskUsage = 0;
    QList<qint64> m_pendingRemoval; ///< ids undo() brings back
    QTimer m_reloadTimer;
    QTimer m_undoTimer;
    int m_pageSize = kPage;
    bool m_resetPending = false;
    bool m_updating = false; ///< inside reload()
};

} // namespace daub
