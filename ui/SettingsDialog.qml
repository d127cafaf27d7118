// Daub's settings that are not a generation's options: the history (where
// it lives, how much disk it takes, "delete all but favourites" behind a
// confirmation) and the API for other programs (off by default; its
// address, token and allowed web pages). The options panel keeps the rest
// (model, sizes, save folder, theme).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Daub.App

Dialog {
    id: root

    /// A short confirmation for the window's toast.
    signal notify(string text)

    readonly property int deletable: Math.max(0, GalleryModel.totalCount - GalleryModel.favouriteCount)

    title: qsTr("Settings")
    modal: true
    standardButtons: Dialog.Close
    width: Math.min(560, parent ? parent.width - 80 : 560)
    anchors.centerIn: parent
    onAboutToShow: GalleryModel.refresh()

    component SectionTitle: Label {
        Layout.fillWidth: true
        font.weight: Font.DemiBold
        font.capitalization: Font.AllUppercase
        font.letterSpacing: 0.6
        font.pointSize: Qt.application.font.pointSize * 0.78
        color: Theme.faintText
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 10

        SectionTitle { text: qsTr("History") }
        Label {
            Layout.fillWidth: true
            text: qsTr("Daub keeps every image it makes with its prompt and parameters, so the chat and the gallery are still there after a restart.")
            color: Theme.mutedText
            wrapMode: Text.Wrap
        }
        GridLayout {
            Layout.fillWidth: true
            columns: 2
            columnSpacing: 14
            rowSpacing: 6
            Label { text: qsTr("Size on disk"); color: Theme.mutedText }
            Label {
                objectName: "historyDiskUsage"
                Layout.fillWidth: true
                text: GalleryModel.diskUsageText
                color: Theme.text
                font.weight: Font.DemiBold
            }
            Label { text: qsTr("Images"); color: Theme.mutedText }
            Label {
                objectName: "historyImageCount"
                Layout.fillWidth: true
                text: GalleryModel.favouriteCount === 0 ? String(GalleryModel.totalCount)
                    : GalleryModel.favouriteCount === 1 ? qsTr("%1, of which 1 favourite").arg(GalleryModel.totalCount)
                    : qsTr("%1, of which %2 favourites").arg(GalleryModel.totalCount).arg(GalleryModel.favouriteCount)
                color: Theme.text
            }
            Label { text: qsTr("Folder"); color: Theme.mutedText; Layout.alignment: Qt.AlignTop }
            RowLayout {
                Layout.fillWidth: true
                TextEdit {
                    objectName: "historyFolder"
                    Layout.fillWidth: true
                    text: GalleryModel.folder
                    readOnly: true
                    selectByMouse: true
                    wrapMode: TextEdit.WrapAnywhere
                    color: Theme.text
                    selectionColor: Theme.accent
                    selectedTextColor: Theme.accentText
                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                }
                ToolButton {
                    icon.source: "qrc:/daub/icons/folder.svg"
                    icon.color: Theme.mutedText
                    icon.width: 16
                    icon.height: 16
                    enabled: GalleryModel.folder !== ""
                    onClicked: Qt.openUrlExternally("file://" + encodeURI(GalleryModel.folder))
                    ToolTip.visible: hovered
                    ToolTip.text: qsTr("Open the folder")
                }
            }
        }
        Button {
            objectName: "deleteAllButFavouritesButton"
            text: qsTr("Delete all but favourites\u2026")
            icon.source: "qrc:/daub/icons/trash.svg"
            icon.color: Theme.danger
            icon.width: 16
            icon.height: 16
            enabled: root.deletable > 0
            onClicked: confirm.open()
        }

        SectionTitle { text: qsTr("Other programs"); Layout.topMargin: 8 }
        Switch {
            id: apiSwitch
            objectName: "apiSwitch"
            text: qsTr("Let other programs use Daub")
            checked: ApiService.enabled
            onToggled: ApiService.enabled = checked
        }
        Label {
            Layout.fillWidth: true
            text: qsTr("Open WebUI, SillyTavern, Krita and other programs that speak AUTOMATIC1111's API can send prompts to Daub; their jobs appear in this chat.")
            color: Theme.mutedText
            wrapMode: Text.Wrap
        }
        GridLayout {
            Layout.fillWidth: true
            columns: 2
            columnSpacing: 14
            rowSpacing: 6
            Label { text: qsTr("Address"); color: Theme.mutedText }
            TextEdit {
                objectName: "apiUrl"
                Layout.fillWidth: true
                text: ApiService.running ? ApiService.url : qsTr("not running")
                readOnly: true
                selectByMouse: true
                color: ApiService.running ? Theme.text : Theme.faintText
                selectionColor: Theme.accent
                selectedTextColor: Theme.accentText
                font.weight: ApiService.running ? Font.DemiBold : Font.Normal
            }
            Label { text: qsTr("Listen on"); color: Theme.mutedText }
            TextField {
                objectName: "apiListen"
                Layout.fillWidth: true
                text: ApiService.listen
                placeholderText: "127.0.0.1:7860"
                onEditingFinished: ApiService.listen = text
                ToolTip.visible: hovered
                ToolTip.text: qsTr("127.0.0.1 is this machine only; another address lets other machines in and needs a token.")
            }
            Label { text: qsTr("Token"); color: Theme.mutedText }
            TextField {
                objectName: "apiToken"
                Layout.fillWidth: true
                text: ApiService.token
                echoMode: TextInput.Password
                placeholderText: qsTr("none (this machine only)")
                onEditingFinished: ApiService.token = text
            }
            Label { text: qsTr("Web pages"); color: Theme.mutedText }
            TextField {
                objectName: "apiOrigins"
                Layout.fillWidth: true
                text: ApiService.origins
                placeholderText: qsTr("none; e.g. http://localhost:3000")
                onEditingFinished: ApiService.origins = text
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Web pages allowed to call Daub from a browser; others are refused.")
            }
        }
        Label {
            objectName: "apiError"
            Layout.fillWidth: true
            visible: ApiService.error !== ""
            text: ApiService.error
            color: Theme.danger
            wrapMode: Text.Wrap
        }
    }

    // Held by a property, not a child: a child popup would be laid out
    // with the dialog's content.
    readonly property Dialog confirmDialog: Dialog {
        id: confirm
        objectName: "confirmDeleteDialog"
        parent: root.parent
        anchors.centerIn: parent
        width: Math.min(460, parent ? parent.width - 80 : 460)
        modal: true
        title: root.deletable === 1 ? qsTr("Delete 1 image?") : qsTr("Delete %1 images?").arg(root.deletable)
        ColumnLayout {
            anchors.fill: parent
            Label {
                Layout.fillWidth: true
                text: qsTr("Every image that is not a favourite is deleted from the history with its prompt, for good. Your %1 favourites stay; images you saved elsewhere are not touched.").arg(GalleryModel.favouriteCount)
                wrapMode: Text.Wrap
                color: Theme.text
            }
        }
        footer: DialogButtonBox {
            Button {
                objectName: "confirmDeleteButton"
                text: qsTr("Delete")
                palette.buttonText: Theme.danger
                DialogButtonBox.buttonRole: DialogButtonBox.AcceptRole
            }
            Button {
                objectName: "cancelDeleteButton"
                text: qsTr("Cancel")
                DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
            }
        }
        onAccepted: {
            const n = GalleryModel.removeAllButFavourites()
            root.notify(n === 1 ? qsTr("Deleted 1 image") : qsTr("Deleted %1 images").arg(n))
        }
    }
}
